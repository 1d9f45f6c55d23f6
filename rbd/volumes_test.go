//go:build integration

package rbd

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/ceph/go-ceph/rbd"
)

// TestEnrollMakesClone checks, through librbd and the monitors as admin,
// what an enroll made: a namespace of the node's own, a root cloned from
// the golden snapshot at the requested size, and a user with narrow caps.
func TestEnrollMakesClone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 128<<20)
	ns := boot.VolumeName(mac)
	if got := imagesIn(t, ns); !slices.Equal(got, []string{"root"}) {
		t.Fatalf("images in namespace %s = %v, want [root]", ns, got)
	}
	img, err := adminImage(t, ns, "root", true)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	p, err := img.GetParent()
	if err != nil {
		t.Fatalf("GetParent: %v", err)
	}
	g := testCluster.goldenRef
	if p.Image.PoolName != "rbd" || p.Image.PoolNamespace != g.Namespace || p.Image.ImageName != "base" || p.Snap.SnapName != "v1" {
		t.Errorf("parent = %+v, want rbd/%s/base@v1", p, g.Namespace)
	}
	if size, _ := img.GetSize(); size != 128<<20 {
		t.Errorf("size = %d, want %d", size, 128<<20)
	}
	if got := readAt(t, ns, "root", 1<<20, len(goldenMarker)); got != goldenMarker {
		t.Errorf("clone reads %q at 1 MiB, want the golden's %q", got, goldenMarker)
	}
	caps := userCaps(t, "client."+ns)
	wantOSD := "profile rbd pool=rbd namespace=" + ns + ", profile rbd-read-only pool=rbd namespace=" + g.Namespace
	if caps["mon"] != "allow r" || caps["osd"] != wantOSD {
		t.Errorf("caps of client.%s = %v, want mon 'allow r' osd %q", ns, caps, wantOSD)
	}
	// The Service's own view agrees.
	v, _, err := f.svc.Volume(t.Context(), mac)
	if err != nil || v.Parent != g.String() || v.SizeBytes != 128<<20 || v.ID == "" {
		t.Errorf("Service.Volume = %+v, %v; want parent %s, 128 MiB, an ID", v, err, g)
	}
	// Enrolling a smaller size than the golden is refused and leaves nothing.
	small := randMAC()
	if _, err := f.svc.Enroll(t.Context(), boot.EnrollRequest{MAC: small, Image: "base", SizeBytes: 1 << 20}); !errors.Is(err, boot.ErrInvalid) {
		t.Errorf("Enroll smaller than golden = %v, want ErrInvalid", err)
	}
	if got := imagesIn(t, boot.VolumeName(small)); got != nil || userCaps(t, "client."+boot.VolumeName(small)) != nil {
		t.Errorf("refused enroll left namespace %v or a user", got)
	}
}

// TestNodeKeyReachesOnlyItsOwnVolume opens volumes through librbd with the
// node's own credentials, as its kernel would.
func TestNodeKeyReachesOnlyItsOwnVolume(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.enroll(t, 0), f.enroll(t, 0)
	key, err := f.client.Key(t.Context(), boot.VolumeName(a))
	if err != nil || len(key) != 40 {
		t.Fatalf("NodeKey = %d chars, %v; want a 40-character key", len(key), err)
	}
	conn := nodeConn(t, a, key)
	open := func(ns, image string, ro bool) (*rbd.Image, error) {
		io, err := conn.OpenIOContext("rbd")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(io.Destroy)
		io.SetNamespace(ns)
		if ro {
			return rbd.OpenImageReadOnly(io, image, rbd.NoSnapshot)
		}
		return rbd.OpenImage(io, image, rbd.NoSnapshot)
	}
	own, err := open(boot.VolumeName(a), "root", false)
	if err != nil {
		t.Fatalf("node %s opening its own root: %v", a, err)
	}
	if _, err := own.WriteAt([]byte("mine"), 0); err != nil {
		t.Errorf("node %s writing its own root: %v", a, err)
	}
	buf := make([]byte, len(goldenMarker))
	if _, err := own.ReadAt(buf, 1<<20); err != nil || string(buf) != goldenMarker {
		t.Errorf("node %s reading the golden blocks through its clone = %q, %v", a, buf, err)
	}
	own.Close()
	if got := readAt(t, boot.VolumeName(a), "root", 0, 4); got != "mine" {
		t.Errorf("admin reads %q from %s's root, want what the node wrote", got, a)
	}
	if img, err := open(boot.VolumeName(b), "root", false); err == nil {
		_, werr := img.WriteAt([]byte("theirs"), 0)
		img.Close()
		t.Errorf("node %s opened %s's root read-write (write: %v), want refused", a, b, werr)
	}
	if img, err := open(boot.VolumeName(b), "root", true); err == nil {
		img.Close()
		t.Errorf("node %s opened %s's root read-only, want refused", a, b)
	}
	if got := readAt(t, boot.VolumeName(b), "root", 0, 6); got == "theirs" {
		t.Errorf("node %s's write reached %s's volume", a, b)
	}
	g := testCluster.goldenRef
	if img, err := open(g.Namespace, g.Image, true); err != nil {
		t.Errorf("node reading the golden image: %v, want allowed", err)
	} else {
		img.Close()
	}
	if img, err := open(g.Namespace, g.Image, false); err == nil {
		_, werr := img.WriteAt([]byte("x"), 0)
		img.Close()
		if werr == nil {
			t.Errorf("node wrote the golden image, want refused")
		}
	}
}

func TestSnapshotAndRollback(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	ns, ctx := boot.VolumeName(mac), t.Context()
	writeAt(t, ns, "root", 0, "one")
	if _, err := f.svc.Snapshot(ctx, mac, "s1"); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if _, err := f.svc.Snapshot(ctx, mac, "s1"); !errors.Is(err, boot.ErrExists) {
		t.Errorf("second Snapshot s1 = %v, want ErrExists", err)
	}
	writeAt(t, ns, "root", 0, "two")
	img, _ := adminImage(t, ns, "root", true)
	snaps, _ := img.GetSnapshotNames()
	img.Close()
	if len(snaps) != 1 || snaps[0].Name != "s1" {
		t.Errorf("librbd lists snapshots %+v, want s1", snaps)
	}
	list, err := f.svc.Snapshots(ctx, mac)
	if err != nil || len(list) != 1 || list[0].Name != "s1" || list[0].Kept || list[0].Created.IsZero() {
		t.Errorf("Snapshots = %+v, %v; want s1 with a time", list, err)
	}
	if _, err := f.svc.Rollback(ctx, mac, "s1"); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if got := readAt(t, ns, "root", 0, 3); got != "one" {
		t.Errorf("after Rollback to s1 the root reads %q, want one", got)
	}
	if _, err := f.svc.Rollback(ctx, mac, "nope"); !errors.Is(err, boot.ErrNotFound) {
		t.Errorf("Rollback to a missing snapshot = %v, want ErrNotFound", err)
	}
}

func TestReimage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	t.Run("keep", func(t *testing.T) {
		mac := f.enroll(t, 0)
		ns := boot.VolumeName(mac)
		writeAt(t, ns, "root", 1<<20, "node data here!")
		if _, err := f.svc.Snapshot(ctx, mac, "before"); err != nil {
			t.Fatal(err)
		}
		old, _ := f.client.Volume(ctx, ns)
		if _, err := f.svc.ReimageKeep(ctx, mac, "old"); err != nil {
			t.Fatalf("ReimageKeep: %v", err)
		}
		cur, err := f.client.Volume(ctx, ns)
		if err != nil || cur.ID == old.ID {
			t.Fatalf("after reimage root = %+v, %v; want a new image (old id %s)", cur, err, old.ID)
		}
		if got := readAt(t, ns, "root", 1<<20, len(goldenMarker)); got != goldenMarker {
			t.Errorf("fresh root reads %q, want the golden's", got)
		}
		if got := readAt(t, ns, "kept.old", 1<<20, 15); got != "node data here!" {
			t.Errorf("kept volume reads %q, want the old data", got)
		}
		list, _ := f.svc.Snapshots(ctx, mac)
		if !slices.ContainsFunc(list, func(s boot.Snapshot) bool { return s.Name == "old" && s.Kept }) {
			t.Errorf("Snapshots = %+v, want kept volume old", list)
		}
		if _, err := f.svc.Rollback(ctx, mac, "old"); err != nil {
			t.Fatalf("Rollback to kept volume: %v", err)
		}
		if got := readAt(t, ns, "root", 1<<20, 15); got != "node data here!" {
			t.Errorf("after rollback to the kept volume the root reads %q", got)
		}
		imgs := imagesIn(t, ns)
		if len(imgs) != 2 || !slices.Contains(imgs, "root") || !strings.HasPrefix(imgs[0]+imgs[1], "kept.replaced-") && !strings.Contains(imgs[0]+imgs[1], "kept.replaced-") {
			t.Errorf("images after swap = %v, want root and kept.replaced-*", imgs)
		}
	})
	t.Run("delete", func(t *testing.T) {
		mac := f.enroll(t, 0)
		ns := boot.VolumeName(mac)
		writeAt(t, ns, "root", 1<<20, "node data here!")
		f.svc.Snapshot(ctx, mac, "s")
		if _, err := f.svc.Reimage(ctx, mac); err != nil {
			t.Fatalf("Reimage: %v", err)
		}
		if got := imagesIn(t, ns); !slices.Equal(got, []string{"root"}) {
			t.Errorf("images after reimage = %v, want [root]", got)
		}
		if got := readAt(t, ns, "root", 1<<20, len(goldenMarker)); got != goldenMarker {
			t.Errorf("fresh root reads %q, want the golden's", got)
		}
		img, _ := adminImage(t, ns, "root", true)
		snaps, _ := img.GetSnapshotNames()
		img.Close()
		if len(snaps) != 0 {
			t.Errorf("fresh root has snapshots %v", snaps)
		}
	})
}

func TestRetireRemovesEverything(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	ns, ctx := boot.VolumeName(mac), t.Context()
	f.svc.Snapshot(ctx, mac, "s")
	if _, err := f.svc.ReimageKeep(ctx, mac, "k"); err != nil {
		t.Fatal(err)
	}
	n, err := f.svc.Retire(ctx, mac)
	if err != nil {
		t.Fatalf("Retire: %v", err)
	}
	if n.State != boot.StateRetired || n.Volume != "" || n.Netboot {
		t.Errorf("retired node = %+v", n)
	}
	if got := imagesIn(t, ns); got != nil {
		t.Errorf("namespace %s still there with %v", ns, got)
	}
	if caps := userCaps(t, "client."+ns); caps != nil {
		t.Errorf("user client.%s still there: %v", ns, caps)
	}
	if err := f.svc.Forget(ctx, mac); err != nil {
		t.Errorf("Forget after Retire: %v", err)
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	g := testCluster.goldenRef
	if err := f.client.Golden(ctx, g, false); err != nil {
		t.Errorf("Golden(%s) = %v", g, err)
	}
	for _, tc := range []struct {
		ref  boot.GoldenRef
		want error
		text string
	}{
		{boot.GoldenRef{Pool: "rbd", Namespace: g.Namespace, Image: "nope", Snapshot: "v1"}, boot.ErrNotFound, "golden image rbd/" + g.Namespace + "/nope does not exist"},
		{boot.GoldenRef{Pool: "rbd", Namespace: g.Namespace, Image: "base", Snapshot: "v9"}, boot.ErrNotFound, "has no snapshot v9"},
	} {
		if err := f.client.Golden(ctx, tc.ref, false); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("Golden(%s) = %v, want %v saying %q", tc.ref, err, tc.want, tc.text)
		}
	}
	// An unprotected snapshot is reported, and protected when asked.
	img, err := adminImage(t, g.Namespace, "base", false)
	if err != nil {
		t.Fatal(err)
	}
	name := "u" + randHex(3)
	if _, err := img.CreateSnapshot(name); err != nil {
		t.Fatal(err)
	}
	img.Close()
	u := boot.GoldenRef{Pool: "rbd", Namespace: g.Namespace, Image: "base", Snapshot: name}
	if err := f.client.Golden(ctx, u, false); !errors.Is(err, boot.ErrUnprotected) {
		t.Errorf("Golden(unprotected) = %v, want ErrUnprotected", err)
	}
	if err := f.client.Golden(ctx, u, true); err != nil {
		t.Errorf("Golden(unprotected, protect) = %v", err)
	}
	img, _ = adminImage(t, g.Namespace, "base", true)
	defer img.Close()
	if ok, err := img.GetSnapshot(name).IsProtected(); !ok || err != nil {
		t.Errorf("after Golden(protect) librbd says protected = %v, %v", ok, err)
	}
}

func TestMapTarget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	tg, err := f.svc.MapTarget(t.Context(), mac)
	if err != nil {
		t.Fatal(err)
	}
	ns := boot.VolumeName(mac)
	if len(tg.Monitors) != 1 || !strings.HasSuffix(tg.Monitors[0], ":6789") || tg.Pool != "rbd" || tg.Namespace != ns ||
		tg.Image != "root" || tg.User != ns {
		t.Errorf("MapTarget = %+v", tg)
	}
	want := tg.Monitors[0] + " name=" + ns + ",key=client." + ns + ",_pool_ns=" + ns + " rbd root -"
	if got := tg.Spec(); got != want {
		t.Errorf("Spec() = %q, want %q", got, want)
	}
}

// TestTargetMsMode: per Config.MsMode, Target names the monitors' msgr v1
// (6789) or msgr2 (3300) addresses from the real monitor map, and the
// ms_mode map option.
func TestTargetMsMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ mode, port, options string }{
		{"", ":6789", ""},
		{"legacy", ":6789", ""},
		{"crc", ":3300", "ms_mode=crc"},
		{"secure", ":3300", "ms_mode=secure"},
		{"prefer-crc", ":3300", "ms_mode=prefer-crc"},
	} {
		c, err := Open(Config{ConfFile: testCluster.conf, User: "bootd", KeyringFile: testCluster.keyring,
			Pool: "rbd", MsMode: tc.mode, Timeout: 20 * time.Second})
		if err != nil {
			t.Fatalf("Open(MsMode %q): %v", tc.mode, err)
		}
		tg, err := c.Target(t.Context(), "node-x")
		c.Close()
		if err != nil {
			t.Fatalf("Target with MsMode %q: %v", tc.mode, err)
		}
		if len(tg.Monitors) != 1 || !strings.HasSuffix(tg.Monitors[0], tc.port) || tg.Options != tc.options {
			t.Errorf("Target with MsMode %q = monitors %v, options %q; want one on %s, options %q",
				tc.mode, tg.Monitors, tg.Options, tc.port, tc.options)
		}
		if tc.options != "" && !strings.Contains(tg.Spec(), ",_pool_ns=node-x,"+tc.options+" rbd root -") {
			t.Errorf("Spec() with MsMode %q = %q, want the option after _pool_ns", tc.mode, tg.Spec())
		}
	}
	if _, err := Open(Config{ConfFile: testCluster.conf, MsMode: "aes"}); err == nil {
		t.Errorf("Open(MsMode aes) = nil error, want one")
	}
}
