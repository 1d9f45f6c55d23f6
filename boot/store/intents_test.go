package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
)

func TestIntents(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if got, err := db.Intents(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Intents() on a new file = %v, %v; want none", got, err)
	}
	a, b := macN(2), macN(1)
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	in := boot.Intent{Op: boot.IntentReimage, MAC: a, Keep: "old", OldID: "abc", Started: started,
		Volume: boot.VolumeRequest{Name: boot.VolumeName(a), Node: a, SizeBytes: 1 << 30,
			Golden: boot.GoldenRef{Pool: "rbd", Namespace: "golden", Image: "debian", Snapshot: "v1"}}}
	if err := db.PutIntent(ctx, in); err != nil {
		t.Fatalf("PutIntent: %v", err)
	}
	if err := db.PutIntent(ctx, boot.Intent{Op: boot.IntentRetire, MAC: a}); !errors.Is(err, boot.ErrBusy) {
		t.Errorf("second PutIntent for %s = %v, want ErrBusy", a, err)
	}
	if err := db.PutIntent(ctx, boot.Intent{Op: boot.IntentEnroll, MAC: b, Started: started}); err != nil {
		t.Fatalf("PutIntent(%s): %v", b, err)
	}
	// Intents survive a reopen, sorted by MAC, whole.
	db.Close()
	if db, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Intents(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("Intents() after reopen = %v, %v; want 2", got, err)
	}
	if got[0].MAC.String() != b.String() || got[1].MAC.String() != a.String() {
		t.Errorf("Intents() order = %s, %s; want %s, %s", got[0].MAC, got[1].MAC, b, a)
	}
	g := got[1]
	if g.Op != in.Op || g.Keep != "old" || g.OldID != "abc" || !g.Started.Equal(started) ||
		g.Volume.Golden != in.Volume.Golden || g.Volume.SizeBytes != 1<<30 || g.Volume.Node.String() != a.String() {
		t.Errorf("Intents()[1] = %+v, want %+v", g, in)
	}
	for _, mac := range []boot.MAC{a, a, b} { // deleting twice is fine
		if err := db.DeleteIntent(ctx, mac); err != nil {
			t.Errorf("DeleteIntent(%s): %v", mac, err)
		}
	}
	if got, err := db.Intents(ctx); err != nil || len(got) != 0 {
		t.Errorf("Intents() after deletes = %v, %v; want none", got, err)
	}
}
