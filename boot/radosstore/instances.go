//go:build cgo

package radosstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bootd/bootd/boot"
)

// oidInstances holds the instances' heartbeats in its omap, one key per
// instance ID, a boot.Instance as JSON. Each instance sets only its own key,
// so a heartbeat needs no comparison, and a prune removes one key.
const oidInstances = "instances"

var _ boot.InstanceStore = (*Store)(nil)

// PutInstance stores in under in.ID, replacing the record there.
func (s *Store) PutInstance(ctx context.Context, in boot.Instance) error {
	if err := boot.ValidInstanceName(in.ID); err != nil {
		return fmt.Errorf("put instance: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("put instance %s: %w", in.ID, err)
	}
	if err := s.ensure(oidInstances); err != nil {
		return err
	}
	if err := s.io.SetOmap(oidInstances, map[string][]byte{in.ID: v}); err != nil {
		return fmt.Errorf("put instance %s: %w", in.ID, err)
	}
	return nil
}

// Instances returns every stored instance record, sorted by ID (the omap's
// order).
func (s *Store) Instances(ctx context.Context) ([]boot.Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, err := s.read(oidInstances, allOmap)
	if err != nil {
		return nil, err
	}
	var out []boot.Instance
	for _, kv := range o.omap {
		var in boot.Instance
		if err := json.Unmarshal(kv.Value, &in); err != nil {
			return nil, fmt.Errorf("decode instance %q: %w", kv.Key, err)
		}
		out = append(out, in)
	}
	return out, nil
}

// DeleteInstance removes id's record, if there is one.
func (s *Store) DeleteInstance(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.io.RmOmapKeys(oidInstances, []string{id})
	if err != nil && !errNotFound(err) {
		return fmt.Errorf("delete instance %s: %w", id, err)
	}
	return nil
}
