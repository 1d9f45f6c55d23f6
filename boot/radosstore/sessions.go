//go:build cgo

package radosstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bootd/bootd/boot"
)

// Boot sessions (boot.SessionStore): one object a MAC, "session.<mac>",
// its body the session in JSON (tokens and secrets only as hashes), each
// change written only if the object is still as read. Every instance
// reads and writes the same object, so a machine may take its lease from
// one instance and its script and key from another, and a key goes out
// once per boot across all of them.
const sessionPrefix = "session."

var _ boot.SessionStore = (*Store)(nil)

func sessionOID(mac boot.MAC) string { return sessionPrefix + mac.String() }

func decodeSession(mac boot.MAC, o object) (*boot.Session, error) {
	return decodeJSON[boot.Session]("session "+mac.String(), o)
}

// Session implements boot.SessionStore.
func (s *Store) Session(ctx context.Context, mac boot.MAC) (*boot.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, err := s.read(sessionOID(mac), 0)
	if err != nil {
		return nil, err
	}
	return decodeSession(mac, o)
}

// UpdateSession implements boot.SessionStore: fn runs on the session as
// read, and its result is written (or the object removed, for nil) only if
// the object is still as read; otherwise fn runs again.
func (s *Store) UpdateSession(ctx context.Context, mac boot.MAC, fn func(cur *boot.Session) (*boot.Session, error)) error {
	return retry(func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, err := s.read(sessionOID(mac), 0)
		if err != nil {
			return err
		}
		cur, err := decodeSession(mac, o)
		if err != nil {
			return err
		}
		next, err := fn(cur)
		if err != nil {
			return err
		}
		if next == nil {
			return s.remove(sessionOID(mac), o)
		}
		v, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("encode session %s: %w", mac, err)
		}
		return s.write(sessionOID(mac), o, v, nil)
	})
}
