// Package boottest has in-memory stand-ins for boot's interfaces, for the
// tests of the packages above boot (web, cmd). They keep state in maps, never
// talk to a cluster, and are safe for concurrent use.
package boottest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/bootd/bootd/boot"
)

// TestKey is the Ceph key Volumes hands out for every node: a well-formed
// base64 key, so that tests can check it never leaks.
const TestKey = "AQBkZXYAAAAAABAAc2VjcmV0LWtleS1mb3ItdGVzdA=="

// Volumes is an in-memory boot.Volumes. Holders, when set for a name,
// pretends another client holds that volume; golden problems, when set for
// a snapshot, make its check fail.
type Volumes struct {
	mu       sync.Mutex
	vols     map[string]boot.VolumeRequest
	ids      map[string]string // a fresh ID per created root, as RBD gives
	snaps    map[string][]boot.Snapshot
	holders  map[string][]boot.Holder
	golden   map[string]error // by GoldenRef.String()
	created  int
	confined map[string]netip.Addr
	rekeys   map[string]int
}

var _ boot.Volumes = (*Volumes)(nil)

// NewVolumes returns an empty backend.
func NewVolumes() *Volumes {
	return &Volumes{vols: map[string]boot.VolumeRequest{}, ids: map[string]string{}, snaps: map[string][]boot.Snapshot{},
		holders: map[string][]boot.Holder{}, golden: map[string]error{}}
}

// Creates returns how many volumes were created.
func (v *Volumes) Creates() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.created
}

// Hold makes the volume look held by h (for fencing tests); no holders clears it.
func (v *Volumes) Hold(name string, h ...boot.Holder) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.holders[name] = h
}

// Create implements boot.Volumes.
func (v *Volumes) Create(_ context.Context, req boot.VolumeRequest) (*boot.Volume, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.vols[req.Name]; ok {
		return nil, fmt.Errorf("%w: volume %s", boot.ErrExists, req.Name)
	}
	v.vols[req.Name] = req
	v.created++
	v.ids[req.Name] = fmt.Sprintf("%s.%d", req.Name, v.created)
	return &boot.Volume{Name: req.Name, ID: v.ids[req.Name], SizeBytes: req.SizeBytes, Parent: req.Golden.String()}, nil
}

// Remove implements boot.Volumes.
func (v *Volumes) Remove(_ context.Context, name string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.vols, name)
	delete(v.snaps, name)
	return nil
}

// Volume implements boot.Volumes.
func (v *Volumes) Volume(_ context.Context, name string) (*boot.Volume, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	req, ok := v.vols[name]
	if !ok {
		return nil, fmt.Errorf("%w: volume %s", boot.ErrNotFound, name)
	}
	return &boot.Volume{Name: name, ID: v.ids[name], SizeBytes: req.SizeBytes, Parent: req.Golden.String()}, nil
}

// List implements boot.Volumes.
func (v *Volumes) List(context.Context) ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for n := range v.vols {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// Discard implements boot.Volumes.
func (v *Volumes) Discard(_ context.Context, name, keep string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.vols, name)
	if keep == "" {
		delete(v.snaps, name)
	} else {
		v.snaps[name] = append(v.snaps[name], boot.Snapshot{Name: keep, Kept: true})
	}
	return nil
}

// Snapshot implements boot.Volumes.
func (v *Volumes) Snapshot(_ context.Context, name, snap string) (*boot.Snapshot, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := boot.Snapshot{Name: snap, SizeBytes: v.vols[name].SizeBytes}
	v.snaps[name] = append(v.snaps[name], s)
	return &s, nil
}

// Snapshots implements boot.Volumes.
func (v *Volumes) Snapshots(_ context.Context, name string) ([]boot.Snapshot, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.snaps[name]), nil
}

// Rollback implements boot.Volumes.
func (v *Volumes) Rollback(_ context.Context, name, snap, _ string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.holders[name]) > 0 {
		return fmt.Errorf("%w: volume %s is in use", boot.ErrBusy, name)
	}
	if !slices.ContainsFunc(v.snaps[name], func(s boot.Snapshot) bool { return s.Name == snap }) {
		return fmt.Errorf("%w: snapshot %s", boot.ErrNotFound, snap)
	}
	return nil
}

// Holders implements boot.Volumes.
func (v *Volumes) Holders(_ context.Context, name string) ([]boot.Holder, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.holders[name]), nil
}

// Release implements boot.Volumes.
func (v *Volumes) Release(_ context.Context, name string, _ []boot.Holder) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.holders, name)
	return nil
}

// SetGolden makes Golden fail for ref with err: wrapping boot.ErrNotFound
// for a missing snapshot, boot.ErrUnprotected for an unprotected one (which
// a check with protect then protects), or any other error for a cluster
// that does not answer. A nil err makes ref fine again.
func (v *Volumes) SetGolden(ref boot.GoldenRef, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err == nil {
		delete(v.golden, ref.String())
	} else {
		v.golden[ref.String()] = err
	}
}

// Golden implements boot.Volumes: every golden snapshot exists and is
// protected, but those SetGolden says otherwise of.
func (v *Volumes) Golden(_ context.Context, ref boot.GoldenRef, protect bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	err := v.golden[ref.String()]
	if protect && errors.Is(err, boot.ErrUnprotected) {
		delete(v.golden, ref.String())
		return nil
	}
	return err
}

// Confine implements boot.Volumes: it remembers the address.
func (v *Volumes) Confine(_ context.Context, name string, addr netip.Addr) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.confined == nil {
		v.confined = map[string]netip.Addr{}
	}
	v.confined[name] = addr
	return nil
}

// Confined returns the address the node user of volume name was last confined to.
func (v *Volumes) Confined(name string) netip.Addr {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.confined[name]
}

// Key implements boot.Volumes.
func (v *Volumes) Key(context.Context, string) (string, error) { return TestKey, nil }

// Rekey implements boot.Volumes; it counts, and lifts the confinement.
func (v *Volumes) Rekey(_ context.Context, name string, _ boot.GoldenRef) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.rekeys == nil {
		v.rekeys = map[string]int{}
	}
	v.rekeys[name]++
	delete(v.confined, name)
	return nil
}

// Rekeys returns how many times the key of volume name was made anew.
func (v *Volumes) Rekeys(name string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rekeys[name]
}

// Target implements boot.Volumes.
func (v *Volumes) Target(_ context.Context, name string) (*boot.MapTarget, error) {
	return &boot.MapTarget{Monitors: []string{"127.0.0.1:6789"}, Pool: "rbd", Namespace: name,
		Image: boot.RootImage, User: name}, nil
}
