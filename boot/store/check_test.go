package store

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/access/accesstest"
)

// filledStore writes a store with nodes, a timeline and a lease, closes it,
// and returns its path. One node's hostname, marker, is easy to find in the file.
func filledStore(t *testing.T, marker string) string {
	t.Helper()
	db, path := openTemp(t)
	ctx := context.Background()
	svc := newService(t, db)
	for i := range 20 {
		host := ""
		if i == 7 {
			host = marker
		}
		if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: macN(i), Image: "debian", Hostname: host}); err != nil {
			t.Fatal(err)
		}
		ev := boot.Event{Stage: boot.StageDHCP, Time: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)}
		if _, err := db.AppendEvent(ctx, macN(i), ev, boot.DefaultTimelinePolicy()); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.ClaimLease(ctx, netip.MustParseAddr("198.18.0.10"), net.HardwareAddr(macN(1)), net.HardwareAddr(macN(1)), time.Now().Add(time.Hour), time.Now()); err != nil {
		t.Fatal(err)
	}
	// Users, their tokens and the audit log are in the file too.
	dir, err := access.NewDirectory(access.Config{Store: db, Hash: accesstest.FastHash})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddUser(ctx, "ops", access.RoleOperator, "a long password"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dir.NewToken(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AuditLog(access.Retention{}).Append(ctx, access.Record{User: "ops", Action: access.ActionEnroll,
		MAC: macN(3), Outcome: access.OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// damage copies the store at path to a new file and changes it with fn.
func damage(t *testing.T, path string, fn func(b []byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(out, fn(bytes.Clone(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpenRefusesDamaged: an empty, cut short or corrupt file is refused
// with ErrDamaged and a message that names the file and the backup, and
// is left as it was; it is never opened as an empty store.
func TestOpenRefusesDamaged(t *testing.T) {
	t.Parallel()
	const marker = "flip-me-host"
	path := filledStore(t, marker)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(orig, []byte(`"hostname":"`+marker))
	if at < 0 {
		t.Fatal("marker not in the file")
	}
	const pageSize = 4096 // bbolt's page, the OS page here
	for _, tc := range []struct {
		name string
		fn   func(b []byte) []byte
		want string
	}{
		{"empty", func([]byte) []byte { return nil }, "empty (0 bytes)"},
		{"shorter than a page", func(b []byte) []byte { return b[:100] }, "cut short"},
		{"cut after the meta pages", func(b []byte) []byte { return b[:2*pageSize] }, "cut short"},
		{"cut in half", func(b []byte) []byte { return b[:len(b)/2/pageSize*pageSize] }, "cut short"},
		{"both meta pages flipped", func(b []byte) []byte { b[20] ^= 1; b[pageSize+20] ^= 1; return b }, "not a readable bbolt file"},
		{"a node's JSON flipped", func(b []byte) []byte { b[at] ^= 1; return b }, "garbled"},
		{"a leaf page's type flipped", func(b []byte) []byte { b[at/pageSize*pageSize+8] ^= 2; return b }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := damage(t, path, tc.fn)
			before, _ := os.ReadFile(p)
			db, err := Open(p, Options{})
			if err == nil {
				db.Close()
				t.Fatalf("Open(%s) = nil error, want ErrDamaged", tc.name)
			}
			msg := err.Error()
			if !errors.Is(err, ErrDamaged) || !strings.Contains(msg, tc.want) || !strings.Contains(msg, p) ||
				!strings.Contains(msg, "bootd backup") {
				t.Fatalf("Open(%s) = %v, want ErrDamaged saying %q, naming the file and the backup", tc.name, err, tc.want)
			}
			if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
				t.Errorf("Open(%s) changed the file", tc.name)
			}
			if _, err := Check(p); !errors.Is(err, ErrDamaged) {
				t.Errorf("Check(%s) = %v, want ErrDamaged", tc.name, err)
			}
		})
	}
}

// TestOpenSurvivesAnyBitFlip flips one bit in every 61st byte of the file,
// one file each: Check (Open's check, without Open's writes) either accepts
// the file or returns ErrDamaged, and never panics, faults or runs out of
// memory. BOOTD_FLIP_STEP=1 flips a bit of every byte.
func TestOpenSurvivesAnyBitFlip(t *testing.T) {
	t.Parallel()
	path := filledStore(t, "x")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opened, refused := 0, 0
	step := 61
	if s, err := strconv.Atoi(os.Getenv("BOOTD_FLIP_STEP")); err == nil && s > 0 {
		step = s
	}
	for off := 0; off < len(orig); off += step {
		b := bytes.Clone(orig)
		b[off] ^= 1 << (off % 8)
		p := filepath.Join(dir, "flip.db")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Check(p)
		switch {
		case err == nil:
			opened++
		case errors.Is(err, ErrDamaged):
			refused++
		default:
			t.Fatalf("Check with bit %d of byte %d flipped = %v, want nil or ErrDamaged", off%8, off, err)
		}
	}
	t.Logf("%d files accepted, %d refused", opened, refused)
	if refused == 0 {
		t.Error("no flipped bit was found")
	}
}

// TestOpenCreatesOnlyWhenMissing: a missing file becomes a new store; a
// store written before reopens with what it holds.
func TestOpenCreatesOnlyWhenMissing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", FileName)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(missing) = %v", err)
	}
	db.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
		t.Fatalf("new store file: %v, %v; want mode 0600, not empty", fi, err)
	}
	sum, err := Check(path)
	if err != nil || sum.Schema != SchemaVersion || sum.Nodes != 0 {
		t.Fatalf("Check(new store) = %+v, %v; want schema %d, no nodes", sum, err, SchemaVersion)
	}
	filled := filledStore(t, "x")
	if sum, err := Check(filled); err != nil || sum.Nodes != 20 {
		t.Fatalf("Check(filled store) = %+v, %v; want 20 nodes", sum, err)
	}
}
