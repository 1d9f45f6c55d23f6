//go:build cgo

package radosstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/bootd/bootd/boot/access"
	"github.com/ceph/go-ceph/rados"
)

// oidAudit holds the audit log: its body is the last sequence number and
// the number of records, its omap the records, keyed by time and sequence.
// An Append reads only the oldest few records, to drop them.
const oidAudit = "audit"

// trimBatch is how many of the oldest records an Append reads, and so the
// most it drops at once (the retention shrinking drops the rest over the
// next appends).
const trimBatch = 16

// AuditLog is access.AuditLog on the store's audit object.
type AuditLog struct {
	s    *Store
	keep access.Retention
}

var _ access.AuditLog = (*AuditLog)(nil)

// AuditLog returns the store's audit log, keeping rt (zero fields take
// access.DefaultRetention's).
func (s *Store) AuditLog(rt access.Retention) *AuditLog {
	return &AuditLog{s: s, keep: rt.WithDefaults()}
}

func auditKey(t time.Time, seq uint64) string {
	return fmt.Sprintf("%016x%016x", uint64(max(t.UnixNano(), 0)), seq)
}

func keyTime(k string) time.Time {
	ns, _ := strconv.ParseUint(k[:min(16, len(k))], 16, 64)
	return time.Unix(0, int64(ns))
}

// Append implements access.AuditLog: the record, the new sequence number
// and the records dropped by the retention are one write.
func (l *AuditLog) Append(ctx context.Context, r access.Record) (access.Record, error) {
	now := time.Now()
	if r.Time.IsZero() {
		r.Time = now
	}
	cutoff := l.keep.Cutoff(now)
	err := retry(func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, err := l.s.read(oidAudit, trimBatch)
		if err != nil {
			return err
		}
		var seq, count uint64
		if len(o.body) > 0 {
			if _, err := fmt.Sscanf(string(o.body), "%d %d", &seq, &count); err != nil {
				return fmt.Errorf("audit sequence %q: %w", o.body, err)
			}
		}
		r.Seq = seq + 1
		v, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode audit record: %w", err)
		}
		key := auditKey(r.Time, r.Seq)
		n := count + 1
		var rm []string
		for _, kv := range o.omap {
			if n <= uint64(l.keep.MaxRecords) && !keyTime(kv.Key).Before(cutoff) {
				break
			}
			if kv.Key > key {
				break // keep what sorts after the new record
			}
			rm = append(rm, kv.Key)
			n--
		}
		body := fmt.Appendf(nil, "%d %d", r.Seq, n)
		return l.s.write(oidAudit, o, body, func(op *rados.WriteOp) {
			op.SetOmap(map[string][]byte{key: v})
			if len(rm) > 0 {
				op.RmOmapKeys(rm)
			}
		})
	})
	if err != nil {
		return access.Record{}, fmt.Errorf("append audit record: %w", err)
	}
	return r, nil
}

// Query implements access.AuditLog, newest first.
func (l *AuditLog) Query(ctx context.Context, f access.Filter) ([]access.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	from := l.keep.Cutoff(time.Now())
	if f.Since.After(from) {
		from = f.Since
	}
	o, err := l.s.read(oidAudit, allOmap)
	if err != nil {
		return nil, err
	}
	out := []access.Record{}
	for i := len(o.omap) - 1; i >= 0 && !keyTime(o.omap[i].Key).Before(from) && (f.Limit <= 0 || len(out) < f.Limit); i-- {
		var r access.Record
		if err := json.Unmarshal(o.omap[i].Value, &r); err != nil {
			return nil, fmt.Errorf("decode audit record %s: %w", o.omap[i].Key, err)
		}
		if f.Match(r) {
			out = append(out, r)
		}
	}
	return out, nil
}
