//go:build integration

package rbd

import (
	"context"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/ceph/go-ceph/rbd"
)

// TestReplaceMovesDiskAndKey: a machine dies holding its volume; bootd
// replace moves its node to another MAC. The dead machine's client is cut
// off, its key opens nothing any more, and the new MAC's bound boot gets the
// new key, which reads what the dead machine wrote. The old MAC's boots get
// no token.
func TestReplaceMovesDiskAndKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	old := f.enroll(t, 0)
	vol := boot.VolumeName(old)
	dead := holdVolume(t, f, old) // wrote "held" at 0 with the old key
	oldKey, err := f.client.Key(ctx, vol)
	if err != nil {
		t.Fatal(err)
	}
	next := randMAC()
	t.Cleanup(func() { f.svc.Retire(context.Background(), next) })
	n, err := f.svc.Replace(ctx, old, next)
	if err != nil {
		t.Fatal(err)
	}
	if n.Volume != vol {
		t.Fatalf("replaced node's volume = %q, want %q", n.Volume, vol)
	}
	waitReleased(t, f, old)
	if _, err := dead.WriteAt([]byte("late"), 0); err == nil {
		t.Error("the dead machine's client could still write")
	}
	if _, err := dialNode(t, old, oldKey, 5); err == nil {
		t.Error("the old key still opens a connection")
	}
	addr := clientAddr(t)
	if _, err := f.svc.IssueBootToken(old, addr); err == nil {
		t.Error("the old MAC still gets a boot token")
	}
	grant, err := keyRelease(t, f, next, addr)
	if err != nil {
		t.Fatalf("key release of the new MAC: %v", err)
	}
	if grant.Key == oldKey {
		t.Fatal("the new MAC got the old key")
	}
	conn := nodeConn(t, old, grant.Key) // the volume's user keeps its name
	io, err := conn.OpenIOContext("rbd")
	if err != nil {
		t.Fatal(err)
	}
	defer io.Destroy()
	io.SetNamespace(vol)
	img, err := rbd.OpenImageReadOnly(io, boot.RootImage, rbd.NoSnapshot)
	if err != nil {
		t.Fatalf("opening the moved volume with the new key: %v", err)
	}
	defer img.Close()
	buf := make([]byte, 4)
	if _, err := img.ReadAt(buf, 0); err != nil || string(buf) != "held" {
		t.Errorf("the moved volume reads %q (%v) with the new key, want the dead machine's %q", buf, err, "held")
	}
	if caps := userCaps(t, "client."+vol); caps["osd"] == "" {
		t.Errorf("the volume's user has no osd caps after the new key: %v", caps)
	}
}
