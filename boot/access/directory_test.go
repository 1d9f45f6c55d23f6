package access_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/access/accesstest"
)

var ctx = context.Background()

func newDirectory(t *testing.T) (*access.Directory, *accesstest.Users) {
	t.Helper()
	users := accesstest.NewUsers()
	d, err := access.NewDirectory(access.Config{Store: users, Hash: accesstest.FastHash})
	if err != nil {
		t.Fatal(err)
	}
	return d, users
}

func addUser(t *testing.T, d *access.Directory, name string, role access.Role, pw string) {
	t.Helper()
	if _, err := d.AddUser(ctx, name, role, pw); err != nil {
		t.Fatalf("AddUser(%s) = %v", name, err)
	}
}

func TestAddUser(t *testing.T) {
	t.Parallel()
	d, users := newDirectory(t)
	u, err := d.AddUser(ctx, "alice", access.RoleOperator, "s3cret-pass")
	if err != nil || u.Name != "alice" || u.Role != access.RoleOperator || u.PasswordHash != "" || u.Created.IsZero() {
		t.Fatalf("AddUser(alice) = %+v, %v, want an operator, without the hash", u, err)
	}
	stored, _ := users.User(ctx, "alice")
	if !strings.HasPrefix(stored.PasswordHash, "$argon2id$") || strings.Contains(stored.PasswordHash, "s3cret-pass") {
		t.Errorf("stored hash = %q, want an argon2id hash", stored.PasswordHash)
	}
	if _, err := d.AddUser(ctx, "alice", access.RoleViewer, ""); !errors.Is(err, access.ErrExists) {
		t.Errorf("AddUser(alice) again = %v, want ErrExists", err)
	}
	for _, c := range []struct {
		name string
		role access.Role
		pw   string
	}{
		{"", access.RoleViewer, ""}, {"Alice", access.RoleViewer, ""}, {"-bob", access.RoleViewer, ""},
		{"bob smith", access.RoleViewer, ""}, {"bob/x", access.RoleViewer, ""}, {strings.Repeat("b", 33), access.RoleViewer, ""},
		{"bob", "root", ""}, {"bob", access.RoleViewer, "short"},
	} {
		_, err := d.AddUser(ctx, c.name, c.role, c.pw)
		if !errors.Is(err, access.ErrInvalid) {
			t.Errorf("AddUser(%q, %q) = %v, want ErrInvalid", c.name, c.role, err)
		}
		if err != nil && c.pw != "" && strings.Contains(err.Error(), c.pw) {
			t.Errorf("AddUser's error %q shows the password", err)
		}
	}
	for _, ok := range []string{"bob", "b", "ci-bot_2.x", "0day", strings.Repeat("b", 32)} {
		if err := access.ValidName(ok); err != nil {
			t.Errorf("ValidName(%q) = %v", ok, err)
		}
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	d, _ := newDirectory(t)
	addUser(t, d, "alice", access.RoleViewer, "s3cret-pass")
	addUser(t, d, "robot", access.RoleOperator, "") // tokens only
	u, err := d.Login(ctx, "alice", "s3cret-pass")
	if err != nil || u.Name != "alice" || u.Role != access.RoleViewer || u.PasswordHash != "" {
		t.Fatalf("Login(alice, right) = %+v, %v", u, err)
	}
	if u.LastUsed.IsZero() {
		t.Errorf("Login did not record the last use")
	}
	for _, c := range [][2]string{{"alice", "wrong-pass"}, {"alice", ""}, {"nobody", "s3cret-pass"},
		{"robot", ""}, {"robot", "no one's password"}, {"Alice", "s3cret-pass"}, {"alice", strings.Repeat("s", 2000)}} {
		u, err := d.Login(ctx, c[0], c[1])
		if u != nil || !errors.Is(err, access.ErrUnauthenticated) {
			t.Errorf("Login(%q, %q) = %v, %v, want ErrUnauthenticated", c[0], c[1], u, err)
		}
	}
}

// TestLoginUnknownUserHashes shows that a login for an unknown user, or one
// without a password, does the hash work a known user's does: with a
// cancelled context, the wait for a hashing slot is what fails. (Timing
// itself is not asserted: tests hold no timed assertions.)
func TestLoginUnknownUserHashes(t *testing.T) {
	t.Parallel()
	d, _ := newDirectory(t)
	addUser(t, d, "alice", access.RoleViewer, "s3cret-pass")
	addUser(t, d, "robot", access.RoleOperator, "")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, name := range []string{"alice", "nobody", "robot"} {
		if _, err := d.Login(cancelled, name, "s3cret-pass"); !errors.Is(err, context.Canceled) {
			t.Errorf("Login(%s) with a cancelled context = %v, want context.Canceled from the hash", name, err)
		}
	}
}

func TestLoginRehashes(t *testing.T) {
	t.Parallel()
	users := accesstest.NewUsers()
	old, _ := access.NewDirectory(access.Config{Store: users, Hash: accesstest.FastHash})
	addUser(t, old, "alice", access.RoleViewer, "s3cret-pass")
	stronger := access.HashParams{Memory: 128, Time: 2, Threads: 1}
	d, _ := access.NewDirectory(access.Config{Store: users, Hash: stronger})
	if _, err := d.Login(ctx, "alice", "s3cret-pass"); err != nil {
		t.Fatalf("Login with the old hash = %v", err)
	}
	u, _ := users.User(ctx, "alice")
	if !strings.Contains(u.PasswordHash, "$m=128,t=2,p=1$") {
		t.Errorf("hash after login = %q, want the new parameters", u.PasswordHash)
	}
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	d, _ := newDirectory(t)
	addUser(t, d, "alice", access.RoleViewer, "")
	if err := d.SetPassword(ctx, "alice", "new-pass-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Login(ctx, "alice", "new-pass-1"); err != nil {
		t.Errorf("Login with the new password = %v", err)
	}
	if err := d.SetPassword(ctx, "nobody", "new-pass-1"); !errors.Is(err, access.ErrUnknownUser) {
		t.Errorf("SetPassword(nobody) = %v, want ErrUnknownUser", err)
	}
	if err := d.SetPassword(ctx, "alice", "short"); !errors.Is(err, access.ErrInvalid) {
		t.Errorf("SetPassword(short) = %v, want ErrInvalid", err)
	}
}

func TestLastAdmin(t *testing.T) {
	t.Parallel()
	d, _ := newDirectory(t)
	addUser(t, d, "root", access.RoleAdmin, "")
	addUser(t, d, "alice", access.RoleOperator, "")
	if err := d.RemoveUser(ctx, "root"); !errors.Is(err, access.ErrLastAdmin) {
		t.Errorf("RemoveUser(last admin) = %v, want ErrLastAdmin", err)
	}
	if err := d.SetRole(ctx, "root", access.RoleOperator); !errors.Is(err, access.ErrLastAdmin) {
		t.Errorf("SetRole(last admin, operator) = %v, want ErrLastAdmin", err)
	}
	if err := d.SetRole(ctx, "alice", access.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveUser(ctx, "root"); err != nil {
		t.Errorf("RemoveUser(root) with another admin = %v", err)
	}
	if err := d.RemoveUser(ctx, "root"); !errors.Is(err, access.ErrUnknownUser) {
		t.Errorf("RemoveUser(root) again = %v, want ErrUnknownUser", err)
	}
	us, err := d.Users(ctx)
	if err != nil || len(us) != 1 || us[0].Name != "alice" || us[0].Role != access.RoleAdmin {
		t.Errorf("Users() = %+v, %v, want alice the admin", us, err)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	users := accesstest.NewUsers()
	d, _ := access.NewDirectory(access.Config{Store: users, Hash: accesstest.FastHash, Now: func() time.Time { return now }})
	addUser(t, d, "alice", access.RoleOperator, "")
	raw, tok, err := d.NewToken(ctx, "alice")
	if err != nil || !strings.HasPrefix(raw, "bootd_"+tok.ID+"_") || len(raw) != len("bootd_")+12+1+64 || tok.Digest != nil {
		t.Fatalf("NewToken() = %q, %+v, %v", raw, tok, err)
	}
	stored, _ := users.User(ctx, "alice")
	if sum := sha256.Sum256([]byte(raw)); string(stored.Tokens[0].Digest) != string(sum[:]) {
		t.Errorf("stored digest is not the token's SHA-256")
	}
	now = now.Add(time.Hour)
	u, err := d.Authenticate(ctx, raw)
	if err != nil || u.Name != "alice" || len(u.Tokens) != 1 || u.Tokens[0].Digest != nil {
		t.Fatalf("Authenticate(token) = %+v, %v", u, err)
	}
	if stored, _ := users.User(ctx, "alice"); !stored.LastUsed.Equal(now) || !stored.Tokens[0].LastUsed.Equal(now) {
		t.Errorf("last use = %v, %v, want %v", stored.LastUsed, stored.Tokens[0].LastUsed, now)
	}
	flip := []byte(raw)
	flip[len(flip)-1] ^= 1 // another hex digit
	for _, bad := range []string{"", string(flip), raw + "0", "bootd_" + tok.ID, "bootd_zz_" + raw[19:],
		strings.Replace(raw, tok.ID, "000000000000", 1), strings.ToUpper(raw), raw[len("bootd_")+13:]} {
		if u, err := d.Authenticate(ctx, bad); u != nil || !errors.Is(err, access.ErrUnauthenticated) {
			t.Errorf("Authenticate(%q) = %v, %v, want ErrUnauthenticated", bad, u, err)
		}
	}
	if err := d.RevokeToken(ctx, "alice", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate(ctx, raw); !errors.Is(err, access.ErrUnauthenticated) {
		t.Errorf("Authenticate(revoked) = %v, want ErrUnauthenticated", err)
	}
	if err := d.RevokeToken(ctx, "alice", tok.ID); !errors.Is(err, access.ErrUnknownToken) {
		t.Errorf("RevokeToken(revoked) = %v, want ErrUnknownToken", err)
	}
	if _, _, err := d.NewToken(ctx, "nobody"); !errors.Is(err, access.ErrUnknownUser) {
		t.Errorf("NewToken(nobody) = %v, want ErrUnknownUser", err)
	}
}

func TestBootstrap(t *testing.T) {
	t.Parallel()
	d, users := newDirectory(t)
	const legacy = "4f1c0d8e2a6b9c3f5e7d1a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f2a4b6c8d"
	created, err := d.Bootstrap(ctx, sha256.Sum256([]byte(legacy)))
	if err != nil || !created {
		t.Fatalf("Bootstrap(empty store) = %v, %v, want created", created, err)
	}
	u, err := d.Authenticate(ctx, legacy)
	if err != nil || u.Name != access.BootstrapAdmin || u.Role != access.RoleAdmin {
		t.Fatalf("Authenticate(legacy token) = %+v, %v, want the admin", u, err)
	}
	if u.Tokens[0].ID != access.LegacyTokenID {
		t.Errorf("the admin's token id = %q, want %q", u.Tokens[0].ID, access.LegacyTokenID)
	}
	if _, err := d.Authenticate(ctx, legacy[1:]); !errors.Is(err, access.ErrUnauthenticated) {
		t.Errorf("Authenticate(another legacy token) = %v, want ErrUnauthenticated", err)
	}
	// Again, with the file replaced: no second admin, the new token works.
	const replaced = "0000000000000000000000000000000000000000000000000000000000000001"
	if created, err := d.Bootstrap(ctx, sha256.Sum256([]byte(replaced))); err != nil || created {
		t.Fatalf("Bootstrap(again) = %v, %v, want nothing created", created, err)
	}
	if _, err := d.Authenticate(ctx, replaced); err != nil {
		t.Errorf("Authenticate(replaced legacy token) = %v", err)
	}
	if _, err := d.Authenticate(ctx, legacy); err == nil {
		t.Errorf("the replaced legacy token still works")
	}
	// A revoked legacy token stays revoked.
	if err := d.RevokeToken(ctx, access.BootstrapAdmin, access.LegacyTokenID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Bootstrap(ctx, sha256.Sum256([]byte(replaced))); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate(ctx, replaced); !errors.Is(err, access.ErrUnauthenticated) {
		t.Errorf("Authenticate(revoked legacy token after Bootstrap) = %v, want ErrUnauthenticated", err)
	}
	if us, _ := users.Users(ctx); len(us) != 1 {
		t.Errorf("users after three bootstraps = %d, want 1", len(us))
	}
	if _, err := d.Bootstrap(ctx, [sha256.Size]byte{}); !errors.Is(err, access.ErrInvalid) {
		t.Errorf("Bootstrap(zero digest) = %v, want ErrInvalid", err)
	}
}
