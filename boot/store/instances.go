package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bootd/bootd/boot"
	bolt "go.etcd.io/bbolt"
)

// The instances' heartbeats live in their own bucket, created on first use
// like the leases' (no schema bump):
//
//	instances/<id>   a boot.Instance as JSON
//
// One process holds a bbolt file, so the bucket holds one instance's record
// (and those of earlier names of it, until pruned); it is kept so that the
// bbolt and RADOS stores list instances alike.
var bucketInstances = []byte("instances")

var _ boot.InstanceStore = (*DB)(nil)

// PutInstance stores in under in.ID, replacing the record there.
func (s *DB) PutInstance(ctx context.Context, in boot.Instance) error {
	if err := boot.ValidInstanceName(in.ID); err != nil {
		return fmt.Errorf("put instance: %w", err)
	}
	v, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("put instance %s: %w", in.ID, err)
	}
	return s.write(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketInstances)
		if err != nil {
			return err
		}
		return b.Put([]byte(in.ID), v)
	})
}

// Instances returns every stored instance record, sorted by ID.
func (s *DB) Instances(ctx context.Context) ([]boot.Instance, error) {
	var out []boot.Instance
	err := s.read(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInstances)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var in boot.Instance
			if err := json.Unmarshal(v, &in); err != nil {
				return fmt.Errorf("decode instance %q: %w", k, err)
			}
			out = append(out, in)
			return nil
		})
	})
	return out, err
}

// DeleteInstance removes id's record, if there is one.
func (s *DB) DeleteInstance(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInstances)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(id))
	})
}
