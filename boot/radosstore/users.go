//go:build cgo

package radosstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bootd/bootd/boot/access"
)

// oidUsers holds every user, tokens included, as one JSON list: an
// UpdateUsers is one write, and TokenUser scans the (few) users.
const oidUsers = "users"

// userRecord is a user as stored (the bbolt store's record, field by field).
type userRecord struct {
	Name     string        `json:"name"`
	Role     access.Role   `json:"role"`
	Password string        `json:"password,omitempty"` // the PHC hash
	Created  time.Time     `json:"created"`
	LastUsed time.Time     `json:"last_used,omitzero"`
	Tokens   []tokenRecord `json:"tokens,omitempty"`
}

type tokenRecord struct {
	ID       string    `json:"id"`
	Digest   []byte    `json:"sha256"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

func (r userRecord) user() *access.User {
	u := &access.User{Name: r.Name, Role: r.Role, PasswordHash: r.Password, Created: r.Created,
		LastUsed: r.LastUsed, Tokens: []access.Token{}}
	for _, t := range r.Tokens {
		u.Tokens = append(u.Tokens, access.Token{ID: t.ID, Digest: t.Digest, Created: t.Created, LastUsed: t.LastUsed})
	}
	return u
}

func record(u *access.User) userRecord {
	r := userRecord{Name: u.Name, Role: u.Role, Password: u.PasswordHash, Created: u.Created, LastUsed: u.LastUsed}
	for _, t := range u.Tokens {
		r.Tokens = append(r.Tokens, tokenRecord{ID: t.ID, Digest: t.Digest, Created: t.Created, LastUsed: t.LastUsed})
	}
	return r
}

func (s *Store) readUsers(ctx context.Context) (object, map[string]*access.User, error) {
	if err := ctx.Err(); err != nil {
		return object{}, nil, err
	}
	o, err := s.read(oidUsers, 0)
	if err != nil {
		return o, nil, err
	}
	var recs []userRecord
	if len(o.body) > 0 {
		if err := json.Unmarshal(o.body, &recs); err != nil {
			return o, nil, fmt.Errorf("decode users: %w", err)
		}
	}
	m := make(map[string]*access.User, len(recs))
	for _, r := range recs {
		m[r.Name] = r.user()
	}
	return o, m, nil
}

// User implements access.UserStore.
func (s *Store) User(ctx context.Context, name string) (*access.User, error) {
	_, m, err := s.readUsers(ctx)
	if err != nil {
		return nil, err
	}
	u := m[name]
	if u == nil {
		return nil, fmt.Errorf("%w: %s", access.ErrUnknownUser, name)
	}
	return u, nil
}

// TokenUser implements access.UserStore.
func (s *Store) TokenUser(ctx context.Context, id string) (*access.User, error) {
	_, m, err := s.readUsers(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range m {
		for _, t := range u.Tokens {
			if t.ID == id {
				return u, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %s", access.ErrUnknownToken, id)
}

// Users implements access.UserStore.
func (s *Store) Users(ctx context.Context) ([]*access.User, error) {
	_, m, err := s.readUsers(ctx)
	if err != nil {
		return nil, err
	}
	return sortedUsers(m), nil
}

func sortedUsers(m map[string]*access.User) []*access.User {
	us := make([]*access.User, 0, len(m))
	for _, u := range m {
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b *access.User) int { return strings.Compare(a.Name, b.Name) })
	return us
}

// UpdateUsers implements access.UserStore: one write of the users object,
// made again from the start when another instance wrote it meanwhile.
func (s *Store) UpdateUsers(ctx context.Context, fn func(map[string]*access.User) error) error {
	return retry(func() error {
		o, users, err := s.readUsers(ctx)
		if err != nil {
			return err
		}
		if err := fn(users); err != nil {
			return err
		}
		held := map[string]string{}
		var recs []userRecord
		for _, u := range sortedUsers(users) {
			name := u.Name
			if users[name] != u {
				return fmt.Errorf("update users: entry %q holds another user", name)
			}
			if err := access.ValidName(name); err != nil {
				return fmt.Errorf("update users: %w", err)
			}
			for _, t := range u.Tokens {
				if other, dup := held[t.ID]; dup {
					return fmt.Errorf("update users: token %s held by %s and %s", t.ID, other, name)
				}
				held[t.ID] = name
			}
			recs = append(recs, record(u))
		}
		v, err := json.Marshal(recs)
		if err != nil {
			return fmt.Errorf("encode users: %w", err)
		}
		return s.write(oidUsers, o, v, nil)
	})
}
