//go:build integration

package rbd

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/ceph/go-ceph/rbd"
)

// holdVolume opens mac's root as the node itself, takes its exclusive lock
// and writes, as a running machine would; it returns the open image.
func holdVolume(t *testing.T, f *fixture, mac boot.MAC) *rbd.Image {
	t.Helper()
	key, err := f.client.Key(t.Context(), boot.VolumeName(mac))
	if err != nil {
		t.Fatal(err)
	}
	conn := nodeConn(t, mac, key)
	io, err := conn.OpenIOContext("rbd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(io.Destroy)
	io.SetNamespace(boot.VolumeName(mac))
	img, err := rbd.OpenImage(io, "root", rbd.NoSnapshot)
	if err != nil {
		t.Fatalf("second client opening %s: %v", mac, err)
	}
	t.Cleanup(func() { img.Close() })
	if err := img.LockAcquire(rbd.LockModeExclusive); err != nil {
		t.Fatalf("second client taking the lock: %v", err)
	}
	if _, err := img.WriteAt([]byte("held"), 0); err != nil {
		t.Fatalf("second client writing: %v", err)
	}
	return img
}

// waitReleased polls until nothing holds mac's volume.
func waitReleased(t *testing.T, f *fixture, mac boot.MAC) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		hs, err := f.client.Holders(t.Context(), boot.VolumeName(mac))
		if err == nil && len(hs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume still held after release: %+v, %v", hs, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// keyRelease runs a bound boot of mac at addr, as bootd's DHCP and the
// node's bootd-init would, up to its key release.
func keyRelease(t *testing.T, f *fixture, mac boot.MAC, addr netip.Addr) (*boot.KeyGrant, error) {
	t.Helper()
	f.svc.SawLease(mac, addr, true, false)
	tok, err := f.svc.IssueBootToken(mac, addr)
	if err != nil {
		t.Fatalf("IssueBootToken(%s, %s) = %v", mac, addr, err)
	}
	return f.svc.RedeemBootKey(t.Context(), mac, tok, addr)
}

// TestFenceAnotherClient: a second client holds the node's volume and its
// lock; the key release is refused with a console message and a timeline
// event, until the operator unfences, which blocklists that client.
func TestFenceAnotherClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	ctx := t.Context()
	booting := netip.MustParseAddr("198.18.0.7")
	img := holdVolume(t, f, mac)
	hs, err := f.client.Holders(ctx, boot.VolumeName(mac))
	if err != nil || len(hs) != 1 || !hs[0].Lock || hs[0].IP() == nil {
		t.Fatalf("Holders = %+v, %v; want one client owning the lock", hs, err)
	}
	_, err = keyRelease(t, f, mac, booting)
	if !errors.Is(err, boot.ErrFenced) || !strings.Contains(err.Error(), "bootd unfence "+mac.String()) ||
		strings.Contains(err.Error(), hs[0].Addr) {
		t.Fatalf("key release with another holder = %v, want ErrFenced with the way out and no holder", err)
	}
	boots, _ := f.svc.Timeline(ctx, mac)
	if len(boots) == 0 {
		t.Fatalf("no timeline event for the fenced boot")
	}
	evs := boots[len(boots)-1].Events
	if last := evs[len(evs)-1]; last.Stage != boot.StageFailed || !strings.Contains(last.Detail, "in use by another client") ||
		!strings.Contains(last.Detail, hs[0].Addr) || last.Source != "198.18.0.7" {
		t.Errorf("timeline's last event = %+v, want a failed stage saying the volume is in use", last)
	}
	released, err := f.svc.Unfence(ctx, mac)
	if err != nil || len(released) != 1 || released[0].Addr != hs[0].Addr {
		t.Fatalf("Unfence = %+v, %v; want the holder released", released, err)
	}
	waitReleased(t, f, mac)
	if _, err := img.WriteAt([]byte("late"), 0); err == nil {
		t.Errorf("the fenced client could still write after Unfence")
	}
	if got := readAt(t, boot.VolumeName(mac), "root", 0, 4); got != "held" {
		t.Errorf("root reads %q after the fenced client's late write, want held", got)
	}
	if g, err := keyRelease(t, f, mac, booting); err != nil || g.Key == "" {
		t.Errorf("key release after Unfence = %v, want the key", err)
	}
}

// TestFenceOwnPreviousBoot: a holder at the booting node's own address is
// its previous boot, which is over: the bound key release releases it and
// the boot goes on.
func TestFenceOwnPreviousBoot(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	ctx := t.Context()
	img := holdVolume(t, f, mac)
	hs, err := f.client.Holders(ctx, boot.VolumeName(mac))
	if err != nil || len(hs) == 0 {
		t.Fatalf("Holders = %+v, %v", hs, err)
	}
	own, _ := netip.AddrFromSlice(hs[0].IP())
	if _, err := keyRelease(t, f, mac, own.Unmap()); err != nil {
		t.Fatalf("key release from the holder's own address = %v, want the key", err)
	}
	waitReleased(t, f, mac)
	if _, err := img.WriteAt([]byte("late"), 0); err == nil {
		t.Errorf("the previous boot's client could still write")
	}
}

// TestBusyVolumeRefused: reimage, rollback and retire refuse a volume in use.
func TestBusyVolumeRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	ctx := t.Context()
	if _, err := f.svc.Snapshot(ctx, mac, "s"); err != nil {
		t.Fatal(err)
	}
	holdVolume(t, f, mac)
	for name, op := range map[string]func() error{
		"reimage":  func() error { _, err := f.svc.Reimage(ctx, mac); return err },
		"rollback": func() error { _, err := f.svc.Rollback(ctx, mac, "s"); return err },
		"retire":   func() error { _, err := f.svc.Retire(ctx, mac); return err },
	} {
		if err := op(); !errors.Is(err, boot.ErrBusy) {
			t.Errorf("%s of a volume in use = %v, want ErrBusy", name, err)
		}
	}
	if got := readAt(t, boot.VolumeName(mac), "root", 0, 4); got != "held" {
		t.Errorf("root reads %q, want the holder's data untouched", got)
	}
	f.svc.Unfence(ctx, mac)
	waitReleased(t, f, mac)
}

// TestReadOnlyOpensAreNotHolders: bootd's own read-only opens (Volume,
// Holders, Snapshots from other goroutines or another bootd) never count as
// holders, or bootd would fence nodes against itself.
func TestReadOnlyOpensAreNotHolders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	other := newFixture(t)
	io, err := other.client.ioctx("", boot.VolumeName(mac))
	if err != nil {
		t.Fatal(err)
	}
	defer io.Destroy()
	img, err := other.client.openRoot(io, boot.VolumeName(mac), true)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if hs, err := f.client.Holders(t.Context(), boot.VolumeName(mac)); err != nil || len(hs) != 0 {
		t.Errorf("Holders while another bootd has the root open read-only = %+v, %v; want none", hs, err)
	}
}
