package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bootd/bootd/boot/access"
	bolt "go.etcd.io/bbolt"
)

// Users and their API tokens (access.UserStore), in two buckets created at
// open, so files written before them open unchanged (no schema bump):
//
//	users/<name>   a user as JSON (userRecord): role, password hash (PHC
//	               string), tokens with their SHA-256 digests, times
//	tokens/<id>    the name of the user holding the token with that id
//
// Neither a password nor a token is ever written: only their hashes.
var (
	bucketUsers  = []byte("users")
	bucketTokens = []byte("tokens")
)

var _ access.UserStore = (*DB)(nil)

// userRecord is a user as stored. It is its own type, not access.User, so
// that the file's layout changes only here.
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

func encodeUser(u *access.User) ([]byte, error) {
	r := userRecord{Name: u.Name, Role: u.Role, Password: u.PasswordHash, Created: u.Created, LastUsed: u.LastUsed}
	for _, t := range u.Tokens {
		r.Tokens = append(r.Tokens, tokenRecord{ID: t.ID, Digest: t.Digest, Created: t.Created, LastUsed: t.LastUsed})
	}
	return json.Marshal(r)
}

func decodeUser(v []byte) (*access.User, error) {
	var r userRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, err
	}
	u := &access.User{Name: r.Name, Role: r.Role, PasswordHash: r.Password, Created: r.Created,
		LastUsed: r.LastUsed, Tokens: []access.Token{}}
	for _, t := range r.Tokens {
		u.Tokens = append(u.Tokens, access.Token{ID: t.ID, Digest: t.Digest, Created: t.Created, LastUsed: t.LastUsed})
	}
	return u, nil
}

func getUser(tx *bolt.Tx, name string) (*access.User, error) {
	v := tx.Bucket(bucketUsers).Get([]byte(name))
	if v == nil {
		return nil, fmt.Errorf("%w: %s", access.ErrUnknownUser, name)
	}
	u, err := decodeUser(v)
	if err != nil {
		return nil, fmt.Errorf("decode user %s: %w", name, err)
	}
	return u, nil
}

func allUsers(tx *bolt.Tx) (map[string]*access.User, error) {
	m := map[string]*access.User{}
	err := tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
		u, err := decodeUser(v)
		if err != nil {
			return fmt.Errorf("decode user %s: %w", k, err)
		}
		m[string(k)] = u
		return nil
	})
	return m, err
}

// User implements access.UserStore.
func (s *DB) User(ctx context.Context, name string) (u *access.User, err error) {
	err = s.read(ctx, func(tx *bolt.Tx) error {
		u, err = getUser(tx, name)
		return err
	})
	return u, err
}

// TokenUser implements access.UserStore.
func (s *DB) TokenUser(ctx context.Context, id string) (u *access.User, err error) {
	err = s.read(ctx, func(tx *bolt.Tx) error {
		name := tx.Bucket(bucketTokens).Get([]byte(id))
		if name == nil {
			return fmt.Errorf("%w: %s", access.ErrUnknownToken, id)
		}
		u, err = getUser(tx, string(name))
		return err
	})
	return u, err
}

// Users implements access.UserStore.
func (s *DB) Users(ctx context.Context) (us []*access.User, err error) {
	us = []*access.User{}
	err = s.read(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			u, err := decodeUser(v)
			if err != nil {
				return fmt.Errorf("decode user %s: %w", k, err)
			}
			us = append(us, u) // bbolt iterates in key order: sorted by name
			return nil
		})
	})
	return us, err
}

// UpdateUsers implements access.UserStore. It writes only the users and
// token index entries that changed.
func (s *DB) UpdateUsers(ctx context.Context, fn func(map[string]*access.User) error) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		users, err := allUsers(tx)
		if err != nil {
			return err
		}
		oldIndex := tokenIndex(users)
		if err := fn(users); err != nil {
			return err
		}
		index := map[string]string{}
		bu, bt := tx.Bucket(bucketUsers), tx.Bucket(bucketTokens)
		for name, u := range users {
			if u == nil || u.Name != name {
				return fmt.Errorf("update users: entry %q holds another user", name)
			}
			if err := access.ValidName(name); err != nil {
				return fmt.Errorf("update users: %w", err)
			}
			for _, t := range u.Tokens {
				if other, dup := index[t.ID]; dup {
					return fmt.Errorf("update users: token %s held by %s and %s", t.ID, other, name)
				}
				index[t.ID] = name
			}
			v, err := encodeUser(u)
			if err != nil {
				return fmt.Errorf("encode user %s: %w", name, err)
			}
			if !bytes.Equal(bu.Get([]byte(name)), v) {
				if err := bu.Put([]byte(name), v); err != nil {
					return err
				}
			}
		}
		var gone [][]byte // deleted after the walk: ForEach's fn must not change the bucket
		if err := bu.ForEach(func(k, _ []byte) error {
			if users[string(k)] == nil {
				gone = append(gone, k)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range gone {
			if err := bu.Delete(k); err != nil {
				return err
			}
		}
		for id, name := range oldIndex {
			if index[id] != name {
				if err := bt.Delete([]byte(id)); err != nil {
					return err
				}
			}
		}
		for id, name := range index {
			if oldIndex[id] != name {
				if err := bt.Put([]byte(id), []byte(name)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// tokenIndex maps each token id of users to its holder's name.
func tokenIndex(users map[string]*access.User) map[string]string {
	m := map[string]string{}
	for name, u := range users {
		for _, t := range u.Tokens {
			m[t.ID] = name
		}
	}
	return m
}
