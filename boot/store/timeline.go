package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/bootd/bootd/boot"
	bolt "go.etcd.io/bbolt"
)

func eventKey(bootSeq, idx int) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint32(k, uint32(bootSeq))
	binary.BigEndian.PutUint32(k[4:], uint32(idx))
	return k
}

func splitKey(k []byte) (bootSeq, idx int) {
	return int(binary.BigEndian.Uint32(k)), int(binary.BigEndian.Uint32(k[4:]))
}

func deleteTimeline(tx *bolt.Tx, mac boot.MAC) error {
	tl := tx.Bucket(bucketTimeline)
	if tl.Bucket(nodeKey(mac)) == nil {
		return nil
	}
	return tl.DeleteBucket(nodeKey(mac))
}

// AppendEvent implements boot.Store.
func (s *DB) AppendEvent(ctx context.Context, mac boot.MAC, ev boot.Event, p boot.TimelinePolicy) (boot.Event, error) {
	var stored boot.Event
	err := s.write(ctx, func(tx *bolt.Tx) error {
		var err error
		stored, err = s.appendEvent(tx, mac, ev, p)
		return err
	})
	return stored, err
}

// AppendEvents implements boot.EventBatcher: the events go in one
// transaction of their own (not shared with other writers through Batch, so
// that a failing event fails only its batch).
func (s *DB) AppendEvents(ctx context.Context, evs []boot.MACEvent, p boot.TimelinePolicy) ([]boot.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	stored := make([]boot.Event, len(evs))
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, e := range evs {
			ev, err := s.appendEvent(tx, e.MAC, e.Event, p)
			if err != nil {
				return err
			}
			stored[i] = ev
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// appendEvent adds ev to mac's timeline inside tx and returns it as stored.
func (s *DB) appendEvent(tx *bolt.Tx, mac boot.MAC, ev boot.Event, p boot.TimelinePolicy) (boot.Event, error) {
	b, err := tx.Bucket(bucketTimeline).CreateBucketIfNotExists(nodeKey(mac))
	if err != nil {
		return ev, err
	}
	var last *boot.Event
	seq, idx := 1, 0
	if k, v := b.Cursor().Last(); k != nil {
		last = new(boot.Event)
		if err := json.Unmarshal(v, last); err != nil {
			return ev, fmt.Errorf("decode event of %s: %w", mac, err)
		}
		seq, idx = splitKey(k)
		idx++
	}
	if last != nil && p.NewBoot != nil && p.NewBoot(last, ev) {
		seq, idx = seq+1, 0
	}
	ev.Boot = seq
	if p.KeepEvents > 0 && idx >= p.KeepEvents {
		idx = p.KeepEvents - 1 // a full boot keeps its newest event in its last slot
	}
	v, err := json.Marshal(ev)
	if err != nil {
		return ev, err
	}
	if err := b.Put(eventKey(seq, idx), v); err != nil {
		return ev, err
	}
	if err := trimBoots(b, seq, p.KeepBoots); err != nil {
		return ev, err
	}
	return ev, s.applyToNode(tx, mac, ev, p)
}

// trimBoots deletes the events of boots older than the newest keep.
func trimBoots(b *bolt.Bucket, newest, keep int) error {
	if keep <= 0 || newest <= keep {
		return nil
	}
	limit := eventKey(newest-keep+1, 0)
	c := b.Cursor()
	for k, _ := c.First(); k != nil && string(k) < string(limit); k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func (s *DB) applyToNode(tx *bolt.Tx, mac boot.MAC, ev boot.Event, p boot.TimelinePolicy) error {
	if p.Apply == nil {
		return nil
	}
	n, err := getNode(tx, mac)
	if err != nil || n == nil {
		return err
	}
	p.Apply(n, ev)
	return s.putNode(tx, n)
}

// Timeline implements boot.Store.
func (s *DB) Timeline(ctx context.Context, mac boot.MAC) ([]boot.Boot, error) {
	boots := []boot.Boot{}
	err := s.read(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTimeline).Bucket(nodeKey(mac))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var ev boot.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("decode event of %s: %w", mac, err)
			}
			seq, _ := splitKey(k)
			if n := len(boots); n == 0 || boots[n-1].Seq != seq {
				boots = append(boots, boot.Boot{Seq: seq})
			}
			boots[len(boots)-1].Events = append(boots[len(boots)-1].Events, ev)
			return nil
		})
	})
	return boots, err
}
