//go:build cgo

package radosstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/bootd/bootd/boot"
	"github.com/ceph/go-ceph/rados"
)

// eventKey is the omap key of an event: boot number and event number, 8
// hex digits each, so that keys sort as the bbolt store's do.
func eventKey(bootSeq, idx int) string { return fmt.Sprintf("%08x%08x", bootSeq, idx) }

func splitKey(k string) (bootSeq, idx int, err error) {
	if len(k) != 16 {
		return 0, 0, fmt.Errorf("malformed event key %q", k)
	}
	a, err1 := strconv.ParseUint(k[:8], 16, 32)
	b, err2 := strconv.ParseUint(k[8:], 16, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("malformed event key %q", k)
	}
	return int(a), int(b), nil
}

// AppendEvent implements boot.Store. The event, the trimmed boots and the
// node as p.Apply changes it are one write operation on the node's object.
func (s *Store) AppendEvent(ctx context.Context, mac boot.MAC, ev boot.Event, p boot.TimelinePolicy) (boot.Event, error) {
	var stored boot.Event
	err := retry(func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, err := s.read(nodeOID(mac), allOmap)
		if err != nil {
			return err
		}
		e, key, rm, err := place(mac, o, ev, p)
		if err != nil {
			return err
		}
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		body := o.body
		if p.Apply != nil {
			n, err := decodeNode(mac.String(), o)
			if err != nil {
				return err
			}
			if n != nil {
				p.Apply(n, e)
				if body, err = json.Marshal(n); err != nil {
					return fmt.Errorf("encode node %s: %w", mac, err)
				}
			}
		}
		stored = e
		return s.write(nodeOID(mac), o, body, func(op *rados.WriteOp) {
			op.SetOmap(map[string][]byte{key: v})
			if len(rm) > 0 {
				op.RmOmapKeys(rm)
			}
		})
	})
	return stored, err
}

// place numbers ev after the timeline o holds, following p, and returns it
// with its key and the keys of the boots p no longer keeps.
func place(mac boot.MAC, o object, ev boot.Event, p boot.TimelinePolicy) (boot.Event, string, []string, error) {
	seq, idx := 1, 0
	if n := len(o.omap); n > 0 {
		lastKV := o.omap[n-1]
		last := new(boot.Event)
		if err := json.Unmarshal(lastKV.Value, last); err != nil {
			return ev, "", nil, fmt.Errorf("decode event of %s: %w", mac, err)
		}
		var err error
		if seq, idx, err = splitKey(lastKV.Key); err != nil {
			return ev, "", nil, fmt.Errorf("timeline of %s: %w", mac, err)
		}
		idx++
		if p.NewBoot != nil && p.NewBoot(last, ev) {
			seq, idx = seq+1, 0
		}
	}
	ev.Boot = seq
	if p.KeepEvents > 0 && idx >= p.KeepEvents {
		idx = p.KeepEvents - 1 // a full boot keeps its newest event in its last slot
	}
	var rm []string
	if p.KeepBoots > 0 && seq > p.KeepBoots {
		limit := eventKey(seq-p.KeepBoots+1, 0)
		for _, kv := range o.omap {
			if kv.Key < limit {
				rm = append(rm, kv.Key)
			}
		}
	}
	return ev, eventKey(seq, idx), rm, nil
}

// Timeline implements boot.Store.
func (s *Store) Timeline(ctx context.Context, mac boot.MAC) ([]boot.Boot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	boots := []boot.Boot{}
	o, err := s.read(nodeOID(mac), allOmap)
	if err != nil {
		return nil, err
	}
	for _, kv := range o.omap {
		var ev boot.Event
		if err := json.Unmarshal(kv.Value, &ev); err != nil {
			return nil, fmt.Errorf("decode event of %s: %w", mac, err)
		}
		seq, _, err := splitKey(kv.Key)
		if err != nil {
			return nil, fmt.Errorf("timeline of %s: %w", mac, err)
		}
		if n := len(boots); n == 0 || boots[n-1].Seq != seq {
			boots = append(boots, boot.Boot{Seq: seq})
		}
		boots[len(boots)-1].Events = append(boots[len(boots)-1].Events, ev)
	}
	return boots, nil
}
