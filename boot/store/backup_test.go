package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestBackupRoundTrip: a copy written by WriteTo opens as a store with the
// same nodes, timelines and leases, while the original stays open.
func TestBackupRoundTrip(t *testing.T) {
	t.Parallel()
	src := filledStore(t, "x")
	db, err := Open(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var buf bytes.Buffer
	n, err := db.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d", n, err, buf.Len())
	}
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if sum, err := Check(path); err != nil || sum.Nodes != 20 {
		t.Fatalf("Check(backup) = %+v, %v; want 20 nodes", sum, err)
	}
	cp, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	ctx := context.Background()
	want, err := db.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cp.Nodes(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("backup's Nodes = %v, %v; want %v", got, err, want)
	}
	for _, n := range want {
		wt, _ := db.Timeline(ctx, n.MAC)
		gt, err := cp.Timeline(ctx, n.MAC)
		if err != nil || len(wt) == 0 || !reflect.DeepEqual(gt, wt) {
			t.Errorf("backup's Timeline(%s) = %+v, %v; want %+v", n.MAC, gt, err, wt)
		}
	}
	if wl, gl := readLeases(t, db), readLeases(t, cp); len(wl) != 1 || !reflect.DeepEqual(gl, wl) {
		t.Errorf("backup's leases = %v, want %v", gl, wl)
	}
}
