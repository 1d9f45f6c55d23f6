package accesstest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
)

// TestUserStore checks the access.UserStore contract on stores made by
// open, each empty. boot/store runs it on bbolt, and this package on Users.
func TestUserStore(t *testing.T, open func(t *testing.T) access.UserStore) {
	ctx := context.Background()
	user := func(name string, ids ...string) *access.User {
		u := &access.User{Name: name, Role: access.RoleOperator, PasswordHash: "$argon2id$x", Tokens: []access.Token{}}
		for _, id := range ids {
			u.Tokens = append(u.Tokens, access.Token{ID: id, Digest: []byte("digest-" + id)})
		}
		return u
	}
	put := func(us ...*access.User) func(map[string]*access.User) error {
		return func(m map[string]*access.User) error {
			for _, u := range us {
				m[u.Name] = u
			}
			return nil
		}
	}
	t.Run("empty", func(t *testing.T) {
		s := open(t)
		if _, err := s.User(ctx, "alice"); !errors.Is(err, access.ErrUnknownUser) {
			t.Errorf("User(alice) = %v, want ErrUnknownUser", err)
		}
		if _, err := s.TokenUser(ctx, "0123"); !errors.Is(err, access.ErrUnknownToken) {
			t.Errorf("TokenUser(0123) = %v, want ErrUnknownToken", err)
		}
		if us, err := s.Users(ctx); err != nil || len(us) != 0 {
			t.Errorf("Users() = %v, %v, want none", us, err)
		}
	})
	t.Run("update", func(t *testing.T) {
		s := open(t)
		if err := s.UpdateUsers(ctx, put(user("bob", "b1"), user("alice", "a1", "a2"))); err != nil {
			t.Fatal(err)
		}
		us, err := s.Users(ctx)
		if err != nil || len(us) != 2 || us[0].Name != "alice" || us[1].Name != "bob" {
			t.Fatalf("Users() = %v, %v, want alice, bob", us, err)
		}
		if u, err := s.TokenUser(ctx, "a2"); err != nil || u.Name != "alice" || string(u.Tokens[1].Digest) != "digest-a2" {
			t.Errorf("TokenUser(a2) = %+v, %v, want alice with a2's digest", u, err)
		}
		u, err := s.User(ctx, "alice")
		if err != nil || u.PasswordHash != "$argon2id$x" || u.Role != access.RoleOperator {
			t.Fatalf("User(alice) = %+v, %v", u, err)
		}
		u.Role = access.RoleAdmin // a copy: the store does not change
		if again, _ := s.User(ctx, "alice"); again.Role != access.RoleOperator {
			t.Errorf("changing a returned user changed the store")
		}
		// Revoke a1, delete bob: the token index follows.
		err = s.UpdateUsers(ctx, func(m map[string]*access.User) error {
			m["alice"].Tokens = m["alice"].Tokens[1:]
			delete(m, "bob")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"a1", "b1"} {
			if _, err := s.TokenUser(ctx, id); !errors.Is(err, access.ErrUnknownToken) {
				t.Errorf("TokenUser(%s) after removal = %v, want ErrUnknownToken", id, err)
			}
		}
		if _, err := s.User(ctx, "bob"); !errors.Is(err, access.ErrUnknownUser) {
			t.Errorf("User(bob) after removal = %v, want ErrUnknownUser", err)
		}
	})
	t.Run("aborts", func(t *testing.T) {
		s := open(t)
		if err := s.UpdateUsers(ctx, put(user("alice", "a1"))); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err := s.UpdateUsers(ctx, func(m map[string]*access.User) error {
			m["carol"] = user("carol")
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("UpdateUsers(fn failing) = %v, want fn's error", err)
		}
		// A token id held twice, and a user under another's key, are refused.
		for _, fn := range []func(map[string]*access.User) error{
			put(user("carol"), user("dave", "a1")),
			func(m map[string]*access.User) error { m["erin"] = user("frank"); return nil },
		} {
			if err := s.UpdateUsers(ctx, fn); err == nil {
				t.Errorf("UpdateUsers(bad change) = nil, want an error")
			}
		}
		if us, _ := s.Users(ctx); len(us) != 1 {
			t.Errorf("after aborted updates Users() = %v, want alice only", us)
		}
	})
}

// TestAuditLog checks the access.AuditLog contract on logs made by open,
// each empty and keeping rt.
func TestAuditLog(t *testing.T, open func(t *testing.T, rt access.Retention) access.AuditLog) {
	ctx := context.Background()
	mac := boot.MAC{0x52, 0x54, 0, 0, 0, 1}
	other := boot.MAC{0x52, 0x54, 0, 0, 0, 2}
	appendN := func(t *testing.T, l access.AuditLog, n int, at time.Time, m boot.MAC) {
		t.Helper()
		for i := range n {
			r := access.Record{Time: at, User: fmt.Sprint("u", i), Via: access.ViaAPI, Action: access.ActionEnroll,
				MAC: m, Outcome: access.OutcomeOK}
			if _, err := l.Append(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("query", func(t *testing.T) {
		l := open(t, access.Retention{})
		now := time.Now()
		appendN(t, l, 2, now.Add(-2*time.Hour), mac)
		appendN(t, l, 3, now.Add(-time.Hour), other)
		r, err := l.Append(ctx, access.Record{User: "zoe", Action: access.ActionRetire, MAC: mac, Outcome: access.OutcomeDenied})
		if err != nil || r.Time.IsZero() || r.Seq == 0 {
			t.Fatalf("Append() = %+v, %v, want a time and a sequence number", r, err)
		}
		all, err := l.Query(ctx, access.Filter{})
		if err != nil || len(all) != 6 || all[0].User != "zoe" || all[0].Action != access.ActionRetire || all[5].Time.After(all[4].Time) {
			t.Fatalf("Query() = %+v, %v, want 6 records, newest first", all, err)
		}
		for _, c := range []struct {
			f    access.Filter
			want int
		}{
			{access.Filter{MAC: mac}, 3},
			{access.Filter{MAC: other, Limit: 2}, 2},
			{access.Filter{Since: now.Add(-90 * time.Minute)}, 4},
			{access.Filter{MAC: mac, Since: now.Add(-90 * time.Minute)}, 1},
			{access.Filter{Limit: 1}, 1},
		} {
			got, err := l.Query(ctx, c.f)
			if err != nil || len(got) != c.want {
				t.Errorf("Query(%+v) = %d records, %v, want %d", c.f, len(got), err, c.want)
			}
			for _, r := range got {
				if !c.f.Match(r) {
					t.Errorf("Query(%+v) returned %+v", c.f, r)
				}
			}
		}
	})
	t.Run("max records", func(t *testing.T) {
		l := open(t, access.Retention{MaxRecords: 5})
		appendN(t, l, 8, time.Time{}, mac)
		got, err := l.Query(ctx, access.Filter{})
		if err != nil || len(got) != 5 || got[4].User != "u3" || got[0].User != "u7" {
			t.Fatalf("Query() after 8 appends keeping 5 = %+v, %v, want u7..u3", got, err)
		}
	})
	t.Run("max age", func(t *testing.T) {
		l := open(t, access.Retention{MaxAge: time.Hour})
		appendN(t, l, 3, time.Now().Add(-3*time.Hour), mac)
		appendN(t, l, 1, time.Now().Add(-time.Minute), other)
		got, err := l.Query(ctx, access.Filter{})
		if err != nil || len(got) != 1 || got[0].MAC.String() != other.String() {
			t.Fatalf("Query() = %+v, %v, want only the recent record", got, err)
		}
	})
}
