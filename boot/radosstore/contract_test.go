//go:build integration && cgo

package radosstore

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/storetest"
	"github.com/ceph/go-ceph/rados"
)

// These tests run against the real cluster of make integration, as the
// least-privilege client.bootd (its keyring next to BOOTD_TEST_CEPH_CONF):
// passing shows its caps are enough. Every test gets a namespace of its
// own, so tests run in parallel and leave other runs' state alone.

// testConfig returns the configuration of a store in a fresh namespace.
func testConfig(t *testing.T) Config {
	t.Helper()
	conf := os.Getenv("BOOTD_TEST_CEPH_CONF")
	if conf == "" {
		t.Fatal("BOOTD_TEST_CEPH_CONF is not set: run these tests with make integration, which starts a cluster")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return Config{ConfFile: conf, Keyring: filepath.Join(filepath.Dir(conf), "client.bootd.keyring"),
		Namespace: "bootd-test-" + hex.EncodeToString(b[:])}
}

func openTest(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func backend(s *Store) storetest.Backend {
	return storetest.Backend{Store: s, Leases: s, Users: s, Instances: s,
		Audit: func(rt access.Retention) access.AuditLog { return s.AuditLog(rt) }}
}

// TestContract holds the RADOS store to the contract of every backend,
// with two instances (two connections) on one namespace.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b storetest.Backend) {
		cfg := testConfig(t)
		return backend(openTest(t, cfg)), backend(openTest(t, cfg))
	})
}

// TestRefusesForeignWrite checks that a write made from a stale read fails
// with errConflict and leaves the object as the other writer left it.
func TestRefusesForeignWrite(t *testing.T) {
	cfg := testConfig(t)
	a, b := openTest(t, cfg), openTest(t, cfg)
	if err := a.write("x", object{}, []byte("one"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.write("x", object{}, []byte("two"), nil); err != errConflict {
		t.Fatalf("exclusive create of an existing object = %v, want errConflict", err)
	}
	old, err := a.read("x", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.write("x", old, []byte("two"), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.write("x", old, []byte("three"), func(op *rados.WriteOp) {
		op.SetOmap(map[string][]byte{"k": []byte("v")})
	}); err != errConflict {
		t.Fatalf("write from a stale read = %v, want errConflict", err)
	}
	now, err := a.read("x", allOmap)
	if err != nil || string(now.body) != "two" || len(now.omap) != 0 {
		t.Errorf("object after the refused write = %q %v, %v; want \"two\" and no omap", now.body, now.omap, err)
	}
}
