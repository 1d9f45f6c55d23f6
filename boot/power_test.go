package boot

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePower records the actions asked of it and keeps each machine's power.
type fakePower struct {
	mu      sync.Mutex
	actions []PowerAction
	on      bool
	fail    error
	refuse  map[PowerAction]error // errors for one action only
}

func (f *fakePower) Seal(mac MAC, pw string) (string, error) {
	return "sealed:test:" + mac.String(), nil
}

func (f *fakePower) Power(_ context.Context, n *Node, a PowerAction) (PowerState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, a)
	if f.fail != nil {
		return "", f.fail
	}
	if err := f.refuse[a]; err != nil {
		return "", err
	}
	switch a {
	case PowerOn, PowerCycle:
		f.on = true
	case PowerOff:
		f.on = false
	}
	if f.on {
		return PowerStateOn, nil
	}
	return PowerStateOff, nil
}

func newPowerService(t *testing.T, vols Volumes, p Power) (*Service, *memStore) {
	t.Helper()
	st := newMemStore()
	cfg := Config{Store: st, Catalog: catalog{"debian": debian}, Power: p,
		Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }}
	if vols != nil {
		cfg.Volumes = vols
	}
	s, err := NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// TestSetPower: settings are checked, a password is sealed and never
// stored, a secret is kept when the settings change without one, and
// "none" clears them.
func TestSetPower(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newPowerService(t, nil, &fakePower{})
	enrollTest(t, s, testMAC)
	bad := []PowerRequest{
		{PowerSettings: PowerSettings{Driver: "snmp"}},
		{PowerSettings: PowerSettings{Driver: DriverIPMI, User: "root"}, Password: "x"},
		{PowerSettings: PowerSettings{Driver: DriverIPMI, Address: "10.0.0.2", User: "root"}}, // no password yet
		{PowerSettings: PowerSettings{Driver: DriverIPMI, Address: "10.0.0.2 -x", User: "root"}, Password: "x"},
		{PowerSettings: PowerSettings{Driver: DriverIPMI, Address: "10.0.0.2", User: "root"}, PasswordFile: "rel/pw"},
		{PowerSettings: PowerSettings{Driver: DriverIPMI, Address: "10.0.0.2", User: "root"}, Password: "x", PasswordFile: "/pw"},
	}
	for _, req := range bad {
		if _, err := s.SetPower(ctx, testMAC, req); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetPower(%+v) = %v, want ErrInvalid", req, err)
		}
	}
	n, err := s.SetPower(ctx, testMAC, PowerRequest{PowerSettings: PowerSettings{Driver: DriverIPMI, Address: "10.0.0.2",
		User: "root", Secret: "file:/smuggled"}, Password: "calvin"})
	if err != nil || n.Power.Secret != "sealed:test:52:54:00:12:34:56" || n.Power.SecretKind() != "sealed" {
		t.Fatalf("SetPower = %+v, %v; want the password sealed", n.Power, err)
	}
	n, err = s.SetPower(ctx, testMAC, PowerRequest{PowerSettings: PowerSettings{Driver: DriverIPMI, Address: "10.0.0.2", User: "root"}})
	if err != nil || n.Power.SecretKind() != "sealed" {
		t.Errorf("SetPower of the same BMC without a password = %+v, %v; want the sealed one kept", n.Power, err)
	}
	// Another address (or user) needs the password again: a stored one is
	// never sent to another machine.
	for _, ps := range []PowerSettings{{Driver: DriverIPMI, Address: "10.6.6.6", User: "root"},
		{Driver: DriverIPMI, Address: "10.0.0.2", User: "admin"}, {Driver: DriverRedfish, Address: "10.0.0.2", User: "root"}} {
		if _, err := s.SetPower(ctx, testMAC, PowerRequest{PowerSettings: ps}); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetPower(%+v) without a password = %v, want ErrInvalid", ps, err)
		}
	}
	n, err = s.SetPower(ctx, testMAC, PowerRequest{PowerSettings: PowerSettings{Driver: DriverRedfish, Address: "https://bmc", User: "root"},
		PasswordFile: "/etc/bootd/bmc.pw"})
	if err != nil || n.Power.SecretKind() != "file:/etc/bootd/bmc.pw" {
		t.Errorf("SetPower with a file = %+v, %v", n.Power, err)
	}
	if n, err = s.SetPower(ctx, testMAC, PowerRequest{PowerSettings: PowerSettings{Driver: "none"}}); err != nil || n.Power != nil {
		t.Errorf("SetPower(none) = %+v, %v", n, err)
	}
	plain, _ := newPowerService(t, nil, nil)
	enrollTest(t, plain, testMAC)
	if _, err := plain.SetPower(ctx, testMAC, PowerRequest{PowerSettings: PowerSettings{Driver: DriverHook}}); !errors.Is(err, ErrNoPower) {
		t.Errorf("SetPower without power control = %v, want ErrNoPower", err)
	}
}

// TestPowerTimeline: a power change is on the timeline with who asked, and
// its failure too; status writes nothing; neither moves the node's state.
func TestPowerTimeline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fp := &fakePower{}
	s, _ := newPowerService(t, nil, fp)
	enrollTest(t, s, testMAC)
	if _, err := s.Power(ctx, testMAC, PowerOn, "ann"); !errors.Is(err, ErrNoPower) {
		t.Fatalf("Power without a driver = %v, want ErrNoPower", err)
	}
	if _, err := s.SetPower(ctx, testMAC, PowerRequest{PowerSettings: PowerSettings{Driver: DriverHook}}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Power(ctx, testMAC, PowerCycle, "ann"); err != nil || st != PowerStateOn {
		t.Fatalf("Power(cycle) = %v, %v", st, err)
	}
	if _, err := s.Power(ctx, testMAC, PowerStatus, "bob"); err != nil {
		t.Fatal(err)
	}
	fp.fail = errors.Join(ErrPower, errors.New("the BMC refused the user name or password"))
	if _, err := s.Power(ctx, testMAC, PowerOff, "ann"); !errors.Is(err, ErrPower) {
		t.Fatalf("Power(off) failing = %v", err)
	}
	s.Flush(ctx)
	boots, _ := s.Timeline(ctx, testMAC)
	var got []string
	for _, b := range boots {
		for _, ev := range b.Events {
			got = append(got, string(ev.Stage)+": "+ev.Detail)
		}
	}
	if len(got) != 3 || got[0] != "power: power cycle requested by ann" || got[1] != "power: power off requested by ann" ||
		!strings.Contains(got[2], "refused the user name or password") {
		t.Errorf("timeline = %q", got)
	}
	if n, _ := s.Node(ctx, testMAC); n.State != StateEnrolled {
		t.Errorf("state after power events = %s, want enrolled", n.State)
	}
}

// TestReimageReboot: the power goes off, the node's own dead boot is
// released (another holder is not), the volume is reimaged, and the node
// is set to boot from the network once and powered on.
func TestReimageReboot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vols := &fakeVolumes{}
	vols.init()
	fp := &fakePower{on: true}
	s, st := newPowerService(t, vols, fp)
	n := enrollTest(t, s, testMAC)
	if _, err := s.ReimageReboot(ctx, testMAC, false, "", "ann"); !errors.Is(err, ErrNoPower) {
		t.Fatalf("ReimageReboot without a driver = %v, want ErrNoPower", err)
	}
	if _, err := s.SetPower(ctx, testMAC, PowerRequest{PowerSettings: PowerSettings{Driver: DriverHook}}); err != nil {
		t.Fatal(err)
	}
	st.Update(ctx, testMAC, func(n *Node) (*Node, error) { n.Addr = "198.18.0.10"; return n, nil })
	own := Holder{Addr: "198.18.0.10:0/1234", Client: "client.41"}
	vols.holders[n.Volume] = []Holder{own}
	before, _ := vols.Volume(ctx, n.Volume)
	if _, err := s.ReimageReboot(ctx, testMAC, false, "", "ann"); err != nil {
		t.Fatalf("ReimageReboot = %v", err)
	}
	if want := []PowerAction{PowerOff, PowerNetbootOnce, PowerOn}; !slices.Equal(fp.actions, want) {
		t.Errorf("power actions = %v, want %v", fp.actions, want)
	}
	if !slices.Contains(vols.released, own) {
		t.Errorf("released %v, want the node's own boot", vols.released)
	}
	if after, _ := vols.Volume(ctx, n.Volume); after.ID == before.ID {
		t.Error("the volume was not reimaged")
	}
	// A BMC that refuses the one-time network boot: a warning on the
	// timeline, and the machine is powered on all the same.
	fp.refuse = map[PowerAction]error{PowerNetbootOnce: errors.Join(ErrPower, errors.New("cc 0xcc: invalid data field"))}
	fp.actions = nil
	vols.holders[n.Volume] = nil
	if _, err := s.ReimageReboot(ctx, testMAC, false, "", "ann"); err != nil {
		t.Fatalf("ReimageReboot with a BMC refusing the network boot = %v, want it powered on", err)
	}
	if want := []PowerAction{PowerOff, PowerNetbootOnce, PowerOn}; !slices.Equal(fp.actions, want) {
		t.Errorf("power actions = %v, want %v", fp.actions, want)
	}
	s.Flush(ctx)
	boots, _ := s.Timeline(ctx, testMAC)
	warned := false
	for _, b := range boots {
		for _, ev := range b.Events {
			warned = warned || ev.Stage == StageWarning && strings.Contains(ev.Detail, "refused the one-time network boot")
		}
	}
	if !warned {
		t.Error("no warning on the timeline for the refused one-time network boot")
	}
	fp.refuse = nil
	// A holder elsewhere is not released: the reimage is refused.
	vols.holders[n.Volume] = []Holder{{Addr: "198.18.0.99:0/1", Client: "client.77"}}
	if _, err := s.ReimageReboot(ctx, testMAC, false, "", "ann"); !errors.Is(err, ErrBusy) {
		t.Errorf("ReimageReboot with another holder = %v, want ErrBusy", err)
	}
}
