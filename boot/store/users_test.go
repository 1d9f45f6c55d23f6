package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/access/accesstest"
)

// TestSecretsNotStored makes a user with a password and a token through a
// Directory on a real file, then reads the file's bytes: neither the
// password nor the token, nor the token's secret half, is in them.
func TestSecretsNotStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, path := openTemp(t)
	dir, err := access.NewDirectory(access.Config{Store: db, Hash: accesstest.FastHash})
	if err != nil {
		t.Fatal(err)
	}
	const password = "Tr0ub4dor&3-horse"
	if _, err := dir.AddUser(ctx, "alice", access.RoleOperator, password); err != nil {
		t.Fatal(err)
	}
	raw, tok, err := dir.NewToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u, err := dir.Authenticate(ctx, raw); err != nil || u.Name != "alice" {
		t.Fatalf("Authenticate(new token) = %v, %v", u, err)
	}
	if _, err := dir.Login(ctx, "alice", password); err != nil {
		t.Fatalf("Login = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secret := raw[strings.LastIndex(raw, "_")+1:]
	for what, s := range map[string]string{"password": password, "token": raw, "token secret": secret,
		"half the secret": secret[:32]} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("the store file holds the %s", what)
		}
	}
	// The sanity check that the search can fail: the token's id is there.
	if !bytes.Contains(b, []byte(tok.ID)) || !bytes.Contains(b, []byte("$argon2id$")) {
		t.Errorf("the store file holds neither the token id nor a password hash: the test reads the wrong file")
	}
}

// TestOpenBeforeUsers opens a file written by the store before users and
// the audit log existed (schema 1; testdata made by that code): it opens
// with its node and lease, gets the new buckets, and takes users and
// audit records.
func TestOpenBeforeUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	f, err := os.Open("testdata/schema1-before-users.db.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(z); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(old file) = %v", err)
	}
	defer db.Close()
	if n, err := db.Node(ctx, macN(1)); err != nil || n.Hostname != "web1" {
		t.Errorf("Node(%v) = %+v, %v, want web1", macN(1), n, err)
	}
	leases := 0
	db.Leases(ctx, func(netip.Addr, net.HardwareAddr, time.Time) error { leases++; return nil })
	if leases != 1 {
		t.Errorf("leases = %d, want 1", leases)
	}
	if us, err := db.Users(ctx); err != nil || len(us) != 0 {
		t.Errorf("Users() = %v, %v, want none", us, err)
	}
	dir, _ := access.NewDirectory(access.Config{Store: db, Hash: accesstest.FastHash})
	if created, err := dir.Bootstrap(ctx, [32]byte{1}); err != nil || !created {
		t.Errorf("Bootstrap(old file) = %v, %v, want the admin created", created, err)
	}
	log := db.AuditLog(access.Retention{})
	if _, err := log.Append(ctx, access.Record{User: "admin", Action: access.ActionEnroll, Outcome: access.OutcomeOK}); err != nil {
		t.Errorf("Append(old file) = %v", err)
	}
	if _, err := db.User(ctx, "nobody"); !errors.Is(err, access.ErrUnknownUser) {
		t.Errorf("User(nobody) = %v, want ErrUnknownUser", err)
	}
}
