//go:build cgo

package radosstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/ceph/go-ceph/rados"
)

// PutTimeline stores boots as mac's timeline, replacing any, with their boot
// numbers (boot/storedump's Import): one write on the node's object.
func (s *Store) PutTimeline(ctx context.Context, mac boot.MAC, boots []boot.Boot) error {
	set := map[string][]byte{}
	for _, bt := range boots {
		for i, ev := range bt.Events {
			v, err := json.Marshal(ev)
			if err != nil {
				return fmt.Errorf("encode event of %s: %w", mac, err)
			}
			set[eventKey(bt.Seq, i)] = v
		}
	}
	return retry(func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, err := s.read(nodeOID(mac), 0)
		if err != nil {
			return err
		}
		return s.write(nodeOID(mac), o, o.body, func(op *rados.WriteOp) {
			op.CleanOmap()
			if len(set) > 0 {
				op.SetOmap(set)
			}
		})
	})
}

// PutAudit stores recs (oldest first) as the audit log, with their sequence
// numbers, replacing any (boot/storedump's Import): one write.
func (s *Store) PutAudit(ctx context.Context, recs []access.Record) error {
	set := map[string][]byte{}
	var last uint64
	for _, r := range recs {
		v, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode audit record: %w", err)
		}
		set[auditKey(r.Time, r.Seq)] = v
		last = max(last, r.Seq)
	}
	return retry(func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, err := s.read(oidAudit, 0)
		if err != nil {
			return err
		}
		return s.write(oidAudit, o, fmt.Appendf(nil, "%d %d", last, len(recs)), func(op *rados.WriteOp) {
			op.CleanOmap()
			if len(set) > 0 {
				op.SetOmap(set)
			}
		})
	})
}
