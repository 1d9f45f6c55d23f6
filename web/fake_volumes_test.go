package web

import (
	"context"
	"fmt"
	"slices"

	"github.com/bootd/bootd/boot"
)

// The intents of the in-memory store.

func (s *memStore) PutIntent(_ context.Context, in boot.Intent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.intents == nil {
		s.intents = map[string]boot.Intent{}
	}
	if _, ok := s.intents[in.MAC.String()]; ok {
		return fmt.Errorf("%w: %s", boot.ErrBusy, in.MAC)
	}
	s.intents[in.MAC.String()] = in
	return nil
}

func (s *memStore) DeleteIntent(_ context.Context, mac boot.MAC) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.intents, mac.String())
	return s.err
}

func (s *memStore) Intents(context.Context) ([]boot.Intent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []boot.Intent
	for _, in := range s.intents {
		out = append(out, in)
	}
	return out, s.err
}

// The rest of boot.Volumes for the in-memory volumes: a volume exists when
// its name is in names; snapshots are remembered, holders there are none.

func (v *volumes) Volume(_ context.Context, name string) (*boot.Volume, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.names[name] {
		return nil, fmt.Errorf("%w: volume %s", boot.ErrNotFound, name)
	}
	return &boot.Volume{Name: name, ID: "id-" + name}, nil
}

func (v *volumes) List(context.Context) ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for n := range v.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (v *volumes) Discard(_ context.Context, name, keep string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.names, name)
	if keep != "" {
		v.addSnap(name, boot.Snapshot{Name: keep, Kept: true})
	}
	return nil
}

func (v *volumes) addSnap(name string, s boot.Snapshot) {
	if v.snaps == nil {
		v.snaps = map[string][]boot.Snapshot{}
	}
	v.snaps[name] = append(v.snaps[name], s)
}

func (v *volumes) Snapshot(_ context.Context, name, snap string) (*boot.Snapshot, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := boot.Snapshot{Name: snap}
	v.addSnap(name, s)
	return &s, nil
}

func (v *volumes) Snapshots(_ context.Context, name string) ([]boot.Snapshot, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.snaps[name]), nil
}

func (v *volumes) Rollback(_ context.Context, name, snap, _ string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !slices.ContainsFunc(v.snaps[name], func(s boot.Snapshot) bool { return s.Name == snap }) {
		return fmt.Errorf("%w: snapshot %s", boot.ErrNotFound, snap)
	}
	return nil
}

func (v *volumes) Holders(context.Context, string) ([]boot.Holder, error) { return nil, nil }

func (v *volumes) Release(context.Context, string, []boot.Holder) error { return nil }

func (v *volumes) Golden(_ context.Context, g boot.GoldenRef, protect bool) error {
	if g.Image == "unprotected" && !protect {
		return fmt.Errorf("%w: golden snapshot %s is not protected", boot.ErrUnprotected, g)
	}
	return nil
}

func (v *volumes) Key(context.Context, string) (string, error) {
	return "AQBkZXYAAAAAABAAc2VjcmV0LWtleS1mb3ItdGVzdA==", nil
}

func (v *volumes) Target(_ context.Context, name string) (*boot.MapTarget, error) {
	return &boot.MapTarget{Monitors: []string{"127.0.0.1:6789"}, Pool: "rbd", Namespace: name, Image: "root", User: name}, nil
}
