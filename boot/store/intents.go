package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bootd/bootd/boot"
	bolt "go.etcd.io/bbolt"
)

// bucketIntents holds the operations under way: intents/<mac> is a
// boot.Intent as JSON. The bucket is made on first use, so files written
// before it existed need no schema change.
var bucketIntents = []byte("intents")

// PutIntent implements boot.Store.
func (s *DB) PutIntent(ctx context.Context, in boot.Intent) error {
	v, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode intent of %s: %w", in.MAC, err)
	}
	return s.write(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketIntents)
		if err != nil {
			return err
		}
		if cur := b.Get(nodeKey(in.MAC)); cur != nil {
			var old boot.Intent
			_ = json.Unmarshal(cur, &old)
			return fmt.Errorf("%w: %s of %s is under way since %s", boot.ErrBusy, old.Op, in.MAC,
				old.Started.Format("2006-01-02 15:04:05"))
		}
		return b.Put(nodeKey(in.MAC), v)
	})
}

// DeleteIntent implements boot.Store.
func (s *DB) DeleteIntent(ctx context.Context, mac boot.MAC) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIntents)
		if b == nil {
			return nil
		}
		return b.Delete(nodeKey(mac))
	})
}

// Intents implements boot.Store.
func (s *DB) Intents(ctx context.Context) ([]boot.Intent, error) {
	var out []boot.Intent
	err := s.read(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIntents)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var in boot.Intent
			if err := json.Unmarshal(v, &in); err != nil {
				return fmt.Errorf("decode intent %s: %w", k, err)
			}
			out = append(out, in)
			return nil
		})
	})
	return out, err
}
