package storetest

import (
	"encoding/json"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/access/accesstest"
	"github.com/bootd/bootd/boot/storedump"
)

// Populate fills an empty store with some of everything it keeps, as bootd
// would: nodes enrolled and discovered, timelines of several boots (the
// oldest trimmed), an intent, leases (one declined), users with a token, and
// audit records (the oldest dropped), for tests that move a whole state.
func Populate(t *testing.T, be Backend) {
	t.Helper()
	ctx := t.Context()
	svc := newService(t, be.Store)
	for i := range 5 {
		if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: MAC(i + 1), Image: "debian"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Discover(ctx, boot.Sighting{MAC: MAC(40), Arch: "x86-bios"}); err != nil {
		t.Fatal(err)
	}
	p := boot.DefaultTimelinePolicy()
	p.KeepBoots = 2
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for n := range 4 {
		for i, st := range []boot.Stage{boot.StageDHCP, boot.StageScript, boot.StageRoot} {
			ev := boot.Event{Stage: st, Time: t0.Add(time.Duration(n*100+i) * time.Second), Source: "198.18.0.10"}
			if _, err := be.Store.AppendEvent(ctx, MAC(1), ev, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := be.Store.PutIntent(ctx, boot.Intent{Op: boot.IntentReimage, MAC: MAC(2), Started: t0}); err != nil {
		t.Fatal(err)
	}
	mac, _ := net.ParseMAC("52:54:00:00:00:01")
	for i, m := range []net.HardwareAddr{mac, nil} {
		if err := be.Leases.ClaimLease(ctx, netip.AddrFrom4([4]byte{198, 18, 0, byte(100 + i)}), m, m, t0.Add(time.Hour), t0); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := access.NewDirectory(access.Config{Store: be.Users, Hash: accesstest.FastHash})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddUser(ctx, "alice", access.RoleOperator, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dir.NewToken(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	audit := be.Audit(access.Retention{MaxRecords: 3})
	for _, a := range []access.Action{access.ActionAssign, access.ActionRetire, access.ActionAssign, access.ActionRetire} {
		if _, err := audit.Append(ctx, access.Record{Action: a, User: "alice", MAC: MAC(1)}); err != nil {
			t.Fatal(err)
		}
	}
}

// SameDump fails t when two dumps differ in their JSON form.
func SameDump(t *testing.T, what string, got, want *storedump.Dump) {
	t.Helper()
	g, err1 := json.MarshalIndent(got, "", " ")
	w, err2 := json.MarshalIndent(want, "", " ")
	if err1 != nil || err2 != nil {
		t.Fatalf("encode dumps: %v, %v", err1, err2)
	}
	if string(g) != string(w) {
		t.Errorf("%s: dump differs:\n got %s\nwant %s", what, g, w)
	}
}
