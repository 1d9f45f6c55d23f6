package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	bolt "go.etcd.io/bbolt"
)

// catalog is a one-image boot.Catalog for tests.
type catalog struct{}

var testImage = &boot.Image{Name: "debian", Flavour: boot.FlavourInitramfsTools, Arch: "amd64",
	Kernel: "/k", Golden: boot.GoldenRef{Image: "debian", Snapshot: "v1"}, SizeBytes: 1 << 30}

func (catalog) Image(_ context.Context, name string) (*boot.Image, error) {
	if name != testImage.Name {
		return nil, fmt.Errorf("%w %q", boot.ErrUnknownImage, name)
	}
	return testImage, nil
}

func (catalog) Images(context.Context) ([]*boot.Image, error) { return []*boot.Image{testImage}, nil }

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func newService(t *testing.T, db *DB) *boot.Service {
	t.Helper()
	s, err := boot.NewService(boot.Config{Store: db, Catalog: catalog{}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func macN(i int) boot.MAC {
	return boot.MAC{0x52, 0x54, 0x00, byte(i >> 16), byte(i >> 8), byte(i)}
}

func TestOpenLocked(t *testing.T) {
	t.Parallel()
	_, path := openTemp(t)
	_, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open(%s) = %v, want ErrLocked", path, err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestOpenSchemaMismatch(t *testing.T) {
	t.Parallel()
	db, path := openTemp(t)
	if err := db.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("99"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Fatalf("Open of a schema-99 file = %v, want a schema version error", err)
	}
}

func TestReopenKeepsNodes(t *testing.T) {
	t.Parallel()
	db, path := openTemp(t)
	ctx := context.Background()
	if _, err := newService(t, db).Enroll(ctx, boot.EnrollRequest{MAC: macN(1), Image: "debian", Hostname: "web1"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	n, err := db2.Node(ctx, macN(1))
	if err != nil || n.Hostname != "web1" || n.Image != "debian" || n.State != boot.StateEnrolled {
		t.Fatalf("Node after reopen = %+v, %v; want web1 on debian, enrolled", n, err)
	}
}

func TestConcurrentEnrolls(t *testing.T) {
	t.Parallel()
	db, _ := openTemp(t)
	svc := newService(t, db)
	ctx := context.Background()
	const count = 1000
	errs := make(chan error, count)
	sem := make(chan struct{}, 64)
	for i := range count {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			_, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: macN(i), Image: "debian"})
			errs <- err
		}()
	}
	for range count {
		if err := <-errs; err != nil {
			t.Errorf("Enroll = %v", err)
		}
	}
	nodes, err := db.Nodes(ctx)
	if err != nil || len(nodes) != count {
		t.Fatalf("Nodes() = %d nodes, %v; want %d", len(nodes), err, count)
	}
	for i := range count {
		if n, err := db.Node(ctx, macN(i)); err != nil || n.State != boot.StateEnrolled {
			t.Errorf("Node(%v) = %+v, %v; want enrolled", macN(i), n, err)
		}
	}
}
