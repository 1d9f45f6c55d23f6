package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bootd/bootd/boot/access"
	bolt "go.etcd.io/bbolt"
)

// The audit log (access.AuditLog), in a bucket created at open:
//
//	audit/count               how many records are kept (8 bytes, big-endian)
//	audit/records/<key>       an access.Record as JSON; key = time (8 bytes,
//	                          Unix nanoseconds) then sequence number (8
//	                          bytes), big-endian, so keys sort oldest first
//
// The sequence numbers are the records bucket's own (NextSequence), never
// reused. The count spares Append a walk over every record to apply the
// retention.
var (
	bucketAudit  = []byte("audit")
	bucketRecord = []byte("records")
	keyCount     = []byte("count")
)

const auditKeySize = 16

// AuditLog is the audit log of a DB, keeping records within its retention.
type AuditLog struct {
	db   *DB
	keep access.Retention
}

var _ access.AuditLog = (*AuditLog)(nil)

// AuditLog returns the store's audit log, keeping rt (zero fields take
// access.DefaultRetention's). Records beyond rt are dropped at the next
// Append and never returned by Query.
func (s *DB) AuditLog(rt access.Retention) *AuditLog {
	return &AuditLog{db: s, keep: rt.WithDefaults()}
}

func auditKey(t time.Time, seq uint64) []byte {
	k := make([]byte, auditKeySize)
	binary.BigEndian.PutUint64(k, uint64(max(t.UnixNano(), 0)))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

func keyTime(k []byte) time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(k))) }

// Append implements access.AuditLog: one transaction stores r and drops
// what falls outside the retention, oldest first.
func (l *AuditLog) Append(ctx context.Context, r access.Record) (access.Record, error) {
	now := time.Now()
	if r.Time.IsZero() {
		r.Time = now
	}
	cutoff := l.keep.Cutoff(now)
	err := l.db.write(ctx, func(tx *bolt.Tx) error {
		a := tx.Bucket(bucketAudit)
		recs, err := a.CreateBucketIfNotExists(bucketRecord)
		if err != nil {
			return err
		}
		if r.Seq, err = recs.NextSequence(); err != nil {
			return err
		}
		v, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode audit record: %w", err)
		}
		if err := recs.Put(auditKey(r.Time, r.Seq), v); err != nil {
			return err
		}
		n := count(a) + 1
		c := recs.Cursor()
		for k, _ := c.First(); k != nil && (n > uint64(l.keep.MaxRecords) || keyTime(k).Before(cutoff)); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
			n--
		}
		return a.Put(keyCount, binary.BigEndian.AppendUint64(nil, n))
	})
	if err != nil {
		return access.Record{}, fmt.Errorf("append audit record: %w", err)
	}
	return r, nil
}

func count(a *bolt.Bucket) uint64 {
	if v := a.Get(keyCount); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Query implements access.AuditLog, walking from the newest record back to
// f.Since or the retention's cutoff.
func (l *AuditLog) Query(ctx context.Context, f access.Filter) ([]access.Record, error) {
	from := l.keep.Cutoff(time.Now())
	if f.Since.After(from) {
		from = f.Since
	}
	out := []access.Record{}
	err := l.db.read(ctx, func(tx *bolt.Tx) error {
		recs := tx.Bucket(bucketAudit).Bucket(bucketRecord)
		if recs == nil {
			return nil
		}
		c := recs.Cursor()
		for k, v := c.Last(); k != nil && !keyTime(k).Before(from) && (f.Limit <= 0 || len(out) < f.Limit); k, v = c.Prev() {
			var r access.Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode audit record %x: %w", k, err)
			}
			if f.Match(r) {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}
