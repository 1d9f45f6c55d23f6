// Package accesstest provides in-memory implementations of access's
// UserStore and AuditLog for the unit tests of packages that use access
// (web's). They keep the contracts boot/store keeps on disk, without a file:
//
//	users := accesstest.NewUsers()
//	dir, _ := access.NewDirectory(access.Config{Store: users, Hash: accesstest.FastHash})
//	audit := accesstest.NewAuditLog(access.Retention{})
package accesstest

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/bootd/bootd/boot/access"
)

// FastHash are password hash parameters cheap enough for unit tests (64 KiB,
// one pass). Never use them outside tests.
var FastHash = access.HashParams{Memory: 64, Time: 1, Threads: 1}

// Users is an in-memory access.UserStore. The zero value is not ready: use
// NewUsers.
type Users struct {
	mu    sync.Mutex
	users map[string]*access.User
}

var _ access.UserStore = (*Users)(nil)

// NewUsers returns an empty store.
func NewUsers() *Users { return &Users{users: map[string]*access.User{}} }

// User implements access.UserStore.
func (s *Users) User(ctx context.Context, name string) (*access.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[name]; u != nil {
		return u.Clone(), nil
	}
	return nil, fmt.Errorf("%w: %s", access.ErrUnknownUser, name)
}

// TokenUser implements access.UserStore.
func (s *Users) TokenUser(ctx context.Context, id string) (*access.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		for _, t := range u.Tokens {
			if t.ID == id {
				return u.Clone(), nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %s", access.ErrUnknownToken, id)
}

// Users implements access.UserStore.
func (s *Users) Users(ctx context.Context) ([]*access.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	us := []*access.User{}
	for _, name := range slices.Sorted(maps.Keys(s.users)) {
		us = append(us, s.users[name].Clone())
	}
	return us, nil
}

// UpdateUsers implements access.UserStore.
func (s *Users) UpdateUsers(ctx context.Context, fn func(map[string]*access.User) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]*access.User, len(s.users))
	for name, u := range s.users {
		next[name] = u.Clone()
	}
	if err := fn(next); err != nil {
		return err
	}
	ids := map[string]string{}
	for name, u := range next {
		if u == nil || u.Name != name {
			return fmt.Errorf("update users: entry %q holds another user", name)
		}
		for _, t := range u.Tokens {
			if other, dup := ids[t.ID]; dup {
				return fmt.Errorf("update users: token %s held by %s and %s", t.ID, other, name)
			}
			ids[t.ID] = name
		}
	}
	s.users = next
	return nil
}

// AuditLog is an in-memory access.AuditLog. The zero value is not ready:
// use NewAuditLog.
type AuditLog struct {
	// Now tells the time for records without one and for the retention;
	// NewAuditLog sets time.Now. Set it before the first use.
	Now func() time.Time

	mu      sync.Mutex
	keep    access.Retention
	seq     uint64
	records []access.Record // sorted by time, then sequence
}

var _ access.AuditLog = (*AuditLog)(nil)

// NewAuditLog returns an empty log keeping rt (zero fields: the defaults).
func NewAuditLog(rt access.Retention) *AuditLog {
	return &AuditLog{Now: time.Now, keep: rt.WithDefaults()}
}

// Append implements access.AuditLog.
func (l *AuditLog) Append(ctx context.Context, r access.Record) (access.Record, error) {
	if err := ctx.Err(); err != nil {
		return access.Record{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	if r.Time.IsZero() {
		r.Time = now
	}
	l.seq++
	r.Seq = l.seq
	r.MAC = slices.Clone(r.MAC)
	i, _ := slices.BinarySearchFunc(l.records, r, order)
	l.records = slices.Insert(l.records, i, r)
	cutoff := l.keep.Cutoff(now)
	drop := 0
	for drop < len(l.records) && (len(l.records)-drop > l.keep.MaxRecords || l.records[drop].Time.Before(cutoff)) {
		drop++
	}
	l.records = slices.Delete(l.records, 0, drop)
	return r, nil
}

func order(a, b access.Record) int {
	return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Seq, b.Seq))
}

// Query implements access.AuditLog.
func (l *AuditLog) Query(ctx context.Context, f access.Filter) ([]access.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cutoff := l.keep.Cutoff(l.Now())
	out := []access.Record{}
	for i := len(l.records) - 1; i >= 0 && (f.Limit <= 0 || len(out) < f.Limit); i-- {
		if r := l.records[i]; !r.Time.Before(cutoff) && f.Match(r) {
			out = append(out, r)
		}
	}
	return out, nil
}
