package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	bolt "go.etcd.io/bbolt"
)

// PutTimeline stores boots as mac's timeline, replacing any, with their boot
// numbers (boot/storedump's Import).
func (s *DB) PutTimeline(ctx context.Context, mac boot.MAC, boots []boot.Boot) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		if err := deleteTimeline(tx, mac); err != nil {
			return err
		}
		b, err := tx.Bucket(bucketTimeline).CreateBucket(nodeKey(mac))
		if err != nil {
			return err
		}
		for _, bt := range boots {
			for i, ev := range bt.Events {
				v, err := json.Marshal(ev)
				if err != nil {
					return fmt.Errorf("encode event of %s: %w", mac, err)
				}
				if err := b.Put(eventKey(bt.Seq, i), v); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// PutAudit stores recs (oldest first) as the audit log, with their sequence
// numbers, replacing any (boot/storedump's Import).
func (s *DB) PutAudit(ctx context.Context, recs []access.Record) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		a := tx.Bucket(bucketAudit)
		if a.Bucket(bucketRecord) != nil {
			if err := a.DeleteBucket(bucketRecord); err != nil {
				return err
			}
		}
		b, err := a.CreateBucket(bucketRecord)
		if err != nil {
			return err
		}
		var last uint64
		for _, r := range recs {
			v, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("encode audit record: %w", err)
			}
			if err := b.Put(auditKey(r.Time, r.Seq), v); err != nil {
				return err
			}
			last = max(last, r.Seq)
		}
		if err := b.SetSequence(last); err != nil {
			return err
		}
		return a.Put(keyCount, binary.BigEndian.AppendUint64(nil, uint64(len(recs))))
	})
}
