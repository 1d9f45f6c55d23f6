//go:build cgo

package radosstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/bootd/bootd/boot"
)

const oidIntents = "intents"

func (s *Store) readIntents() (object, map[string]boot.Intent, error) {
	o, err := s.read(oidIntents, 0)
	if err != nil {
		return o, nil, err
	}
	m := map[string]boot.Intent{}
	if len(o.body) > 0 {
		if err := json.Unmarshal(o.body, &m); err != nil {
			return o, nil, fmt.Errorf("decode intents: %w", err)
		}
	}
	return o, m, nil
}

// changeIntents runs fn on the stored intents and writes what it leaves,
// again from the start when another writer came first.
func (s *Store) changeIntents(ctx context.Context, fn func(m map[string]boot.Intent) error) error {
	return retry(func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, m, err := s.readIntents()
		if err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
		v, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return s.write(oidIntents, o, v, nil)
	})
}

// PutIntent implements boot.Store.
func (s *Store) PutIntent(ctx context.Context, in boot.Intent) error {
	return s.changeIntents(ctx, func(m map[string]boot.Intent) error {
		if old, ok := m[in.MAC.String()]; ok {
			return fmt.Errorf("%w: %s of %s is under way since %s", boot.ErrBusy, old.Op, in.MAC,
				old.Started.Format("2006-01-02 15:04:05"))
		}
		m[in.MAC.String()] = in
		return nil
	})
}

// DeleteIntent implements boot.Store.
func (s *Store) DeleteIntent(ctx context.Context, mac boot.MAC) error {
	return s.changeIntents(ctx, func(m map[string]boot.Intent) error {
		delete(m, mac.String())
		return nil
	})
}

// Intents implements boot.Store.
func (s *Store) Intents(ctx context.Context) ([]boot.Intent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, m, err := s.readIntents()
	if err != nil {
		return nil, err
	}
	var out []boot.Intent
	for _, in := range m {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b boot.Intent) int { return strings.Compare(a.MAC.String(), b.MAC.String()) })
	return out, nil
}
