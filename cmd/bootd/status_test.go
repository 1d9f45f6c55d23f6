package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatusCLI runs bootd serve with an instance name and finds it in
// bootd status (name, boot listener, version, alive) and on the timeline
// events it records; a bootd without one makes a name and keeps it in its
// data folder.
func TestStatusCLI(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--instance-name", "boot-t1")
	var r result
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) { // the first heartbeat
		if r = d.cli(t, "status"); strings.Contains(r.stdout, "boot-t1 *") || time.Now().After(deadline) {
			break
		}
	}
	if r.code != 0 || !strings.Contains(r.stdout, "answered by bootd ") {
		t.Fatalf("bootd status = %+v", r)
	}
	line := ""
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "boot-t1 *") {
			line = l
		}
	}
	if !strings.Contains(line, d.bootURL) || !strings.HasSuffix(strings.TrimSpace(line), "alive") || !strings.Contains(line, " ago)") {
		t.Errorf("bootd status's line of boot-t1 = %q, want its boot URL %s, a heartbeat and alive:\n%s", line, d.bootURL, r.stdout)
	}
	if r := d.cli(t, "status", "-o", "json"); !strings.Contains(r.stdout, `"id": "boot-t1"`) || !strings.Contains(r.stdout, `"self": true`) {
		t.Errorf("bootd status -o json = %s, want boot-t1, self", r.stdout)
	}

	const mac = "52:54:00:00:00:31"
	if r := d.cli(t, "enroll", mac, "--image", "debian-12"); r.code != 0 {
		t.Fatalf("enroll = %+v", r)
	}
	resp, err := http.Get(d.bootURL + "/boot/52-54-00-00-00-31/boot.ipxe")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r := d.cli(t, "timeline", mac)
		if strings.Contains(r.stdout, "script") {
			if !strings.Contains(r.stdout, "INSTANCE") || !strings.Contains(r.stdout, "boot-t1") {
				t.Errorf("bootd timeline = %s, want an INSTANCE column naming boot-t1", r.stdout)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the script fetch never reached the timeline")
		}
	}

	u := startDaemon(t)
	b, err := os.ReadFile(filepath.Join(u.dataDir, instanceFileName))
	name := strings.TrimSpace(string(b))
	if err != nil || name == "" {
		t.Fatalf("instance name file = %q, %v; want a name", b, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r := u.cli(t, "status")
		if strings.Contains(r.stdout, name+" *") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bootd status = %+v, want the name made at start, %s", r, name)
		}
	}
}

func TestNewInstanceName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ host, prefix string }{
		{"boot1.example.org", "boot1-"}, {"", "bootd-"}, {"ü!", "bootd-"}, {strings.Repeat("h", 80), strings.Repeat("h", 55) + "-"},
	} {
		got := newInstanceName(tc.host)
		if !strings.HasPrefix(got, tc.prefix) || len(got) != len(tc.prefix)+6 {
			t.Errorf("newInstanceName(%q) = %q, want %q and 6 hex digits", tc.host, got, tc.prefix)
		}
	}
}
