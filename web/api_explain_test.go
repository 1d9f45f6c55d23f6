package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/boottest"
)

type explainAnswer struct {
	Explain struct {
		Script  string `json:"script"`
		Cmdline string `json:"cmdline"`
		MapSpec string `json:"map_spec"`
		RBDBoot bool   `json:"rbd_boot"`
		DHCP    []struct{ Class, Answer string }
		Files   []struct{ Name, Source string }
		Checks  []struct {
			Name    string `json:"name"`
			OK      bool   `json:"ok"`
			Problem string `json:"problem"`
		} `json:"checks"`
	} `json:"explain"`
	Failed bool `json:"failed"`
}

func TestExplain(t *testing.T) {
	t.Parallel()
	auth := []string{"Authorization", "Bearer " + testToken}
	const path = "/api/v1/nodes/52:54:00:12:34:56/explain"
	tests := []struct {
		name       string
		enroll     bool
		hideKernel bool
		code       int
		failed     []string // the checks that fail
	}{
		{name: "unknown", code: http.StatusNotFound},
		{name: "fine", enroll: true, code: http.StatusOK},
		{name: "kernel missing", enroll: true, hideKernel: true, code: http.StatusOK, failed: []string{"kernel file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, node, svc, _ := rbdBootServer(t)
			ctx := context.Background()
			mac, _ := boot.ParseMAC("52:54:00:12:34:56")
			var realToken string
			if tc.enroll {
				if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "deb", Hostname: "web1"}); err != nil {
					t.Fatal(err)
				}
				svc.SawLease(mac, netip.MustParseAddr("127.0.0.1"), true, false)
				_, script := get(t, srv, http.MethodGet, "/boot/52-54-00-12-34-56/boot.ipxe")
				m := tokenRE.FindStringSubmatch(string(script))
				if m == nil {
					t.Fatalf("script has no token:\n%s", script)
				}
				realToken = m[1]
			}
			if tc.hideKernel {
				img, err := svc.Image(ctx, "deb")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(img.Kernel); err != nil {
					t.Fatal(err)
				}
			}
			if resp, _ := get(t, srv, http.MethodGet, path); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("without a token: %d, want 401", resp.StatusCode)
			}
			resp, body := get(t, srv, http.MethodGet, path, auth...)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			if strings.Contains(string(body), boottest.TestKey) || realToken != "" && strings.Contains(string(body), realToken) {
				t.Fatalf("explain leaks the key or a real token:\n%s", body)
			}
			if tc.code != http.StatusOK {
				return
			}
			var a explainAnswer
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatal(err)
			}
			e := a.Explain
			if !e.RBDBoot || !strings.Contains(e.Cmdline, "bootd.token=<one-time>") ||
				!strings.Contains(e.Script, "bootd.token=<one-time>") || tokenRE.MatchString(e.Script) {
				t.Errorf("cmdline %q, script:\n%s", e.Cmdline, e.Script)
			}
			if want := "127.0.0.1:6789 name=node-525400123456,key=client.node-525400123456,_pool_ns=node-525400123456 rbd root -"; e.MapSpec != want {
				t.Errorf("map spec %q, want %q", e.MapSpec, want)
			}
			want := []string{"kernel file", "initrd 0 file", "rbd kernel modules", "bootd-init for amd64",
				"golden snapshot protected", "volume exists", "node key obtainable", "map target"}
			var names, failed []string
			for _, c := range e.Checks {
				names = append(names, c.Name)
				if !c.OK {
					failed = append(failed, c.Name)
				}
			}
			if strings.Join(names, ",") != strings.Join(want, ",") {
				t.Errorf("checks %q, want %q", names, want)
			}
			if strings.Join(failed, ",") != strings.Join(tc.failed, ",") || a.Failed != (len(tc.failed) > 0) {
				t.Errorf("failed checks %q (failed=%v), want %q", failed, a.Failed, tc.failed)
			}
			if len(e.DHCP) == 0 || len(e.Files) == 0 {
				t.Errorf("no DHCP answers or files: %+v", e)
			}
			// Explaining issued no token: the real one still works once.
			if code, body := post(t, node, "/boot/52-54-00-12-34-56/key", map[string][]string{"token": {realToken}}); code != http.StatusOK ||
				!strings.Contains(body, "key="+boottest.TestKey+"\n") {
				t.Errorf("the real token after explain: %d", code)
			}
		})
	}
}
