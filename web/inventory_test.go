package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

// TestInventoryReport: after its key, a boot reports its hardware once with
// its secret; bootd keeps it on the node (the API shows it). Without the
// secret, with the token, or a second time, it is refused. The next boot's
// report with less memory and another NIC is a warning on the timeline.
func TestInventoryReport(t *testing.T) {
	t.Parallel()
	srv, node, svc, _ := rbdBootServer(t)
	ctx := context.Background()
	mac, _ := boot.ParseMAC("52:54:00:12:34:56")
	if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "deb"}); err != nil {
		t.Fatal(err)
	}
	base := "/boot/52-54-00-12-34-56"
	here := netip.MustParseAddr("127.0.0.1")
	keyOf := func() (token, secret string) {
		t.Helper()
		svc.SawLease(mac, here, true, false)
		_, script := get(t, srv, http.MethodGet, base+"/boot.ipxe")
		m := tokenRE.FindStringSubmatch(string(script))
		if m == nil {
			t.Fatalf("no token in the script:\n%s", script)
		}
		_, body := post(t, node, base+"/key", url.Values{"token": {m[1]}})
		s := regexp.MustCompile(`(?m)^report=([0-9a-f]+)$`).FindStringSubmatch(body)
		if s == nil {
			t.Fatalf("no report secret: %q", body)
		}
		return m[1], s[1]
	}
	inv := boot.Inventory{Vendor: "Dell Inc.", Model: "PowerEdge R630", Serial: "ABC1234", CPUs: 48, MemoryBytes: 256 << 30,
		NICs:  []boot.NIC{{Name: "eno1", MAC: "52-54-00-12-34-56", Link: true, SpeedMbps: 10000}, {Name: "eno2", MAC: "52:54:00:12:34:57"}},
		Disks: nil}
	send := func(inv boot.Inventory, auth string) int {
		t.Helper()
		b, _ := json.Marshal(inv)
		code, _ := post(t, node, base+"/inventory", url.Values{"inventory": {string(b)}, "auth": {auth}})
		return code
	}
	token, secret := keyOf()
	for name, auth := range map[string]string{"no auth": "", "the token": token, "a made-up secret": strings.Repeat("0", len(secret))} {
		if code := send(inv, auth); code != http.StatusForbidden {
			t.Errorf("inventory with %s: %d, want 403", name, code)
		}
	}
	if code, _ := post(t, node, base+"/inventory", url.Values{"inventory": {"{not json"}, "auth": {secret}}); code != http.StatusBadRequest {
		t.Errorf("inventory that is not JSON: %d, want 400", code)
	}
	if code := send(inv, secret); code != http.StatusOK {
		t.Fatalf("inventory with the secret: %d", code)
	}
	if code := send(inv, secret); code != http.StatusForbidden {
		t.Errorf("a second inventory in one boot: %d, want 403", code)
	}
	n, _ := svc.Node(ctx, mac)
	if n.Inventory == nil || n.Inventory.Model != "PowerEdge R630" || n.Inventory.MemoryBytes != 256<<30 ||
		len(n.Inventory.NICs) != 2 || n.Inventory.NICs[0].MAC != "52:54:00:12:34:56" || n.Inventory.Reported.IsZero() {
		t.Fatalf("node inventory = %+v", n.Inventory)
	}

	// The next boot: a DIMM died and a NIC was swapped.
	_, secret = keyOf()
	inv.MemoryBytes = 192 << 30
	inv.NICs[1].MAC = "52:54:00:aa:bb:cc"
	if code := send(inv, secret); code != http.StatusOK {
		t.Fatalf("second boot's inventory: %d", code)
	}
	svc.Flush(ctx)
	boots, _ := svc.Timeline(ctx, mac)
	var warned string
	for _, ev := range boots[len(boots)-1].Events {
		if ev.Stage == boot.StageWarning {
			warned = ev.Text()
		}
	}
	for _, want := range []string{"memory shrank from 256G to 192G", "NIC eno2 52:54:00:12:34:57 gone", "NIC eno2 52:54:00:aa:bb:cc new"} {
		if !strings.Contains(warned, want) {
			t.Errorf("warning %q lacks %q", warned, want)
		}
	}
}
