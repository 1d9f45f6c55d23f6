package boot

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"
)

// Intents of the in-memory store.

func (m *memStore) PutIntent(_ context.Context, in Intent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.intents == nil {
		m.intents = map[string]Intent{}
	}
	if _, ok := m.intents[in.MAC.String()]; ok {
		return fmt.Errorf("%w: intent exists for %s", ErrBusy, in.MAC)
	}
	m.intents[in.MAC.String()] = in
	return nil
}

func (m *memStore) DeleteIntent(_ context.Context, mac MAC) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.intents, mac.String())
	return nil
}

func (m *memStore) Intents(context.Context) ([]Intent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Intent
	for _, in := range m.intents {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MAC.String() < out[j].MAC.String() })
	return out, nil
}

// fakeVolumes is an in-memory Volumes. A volume exists in part when its
// name is in spaces (its namespace); its root when it is in vols. It can be
// told to fail every call (fail), to fail Create or Remove at a step
// (failAt), and which clients hold a volume (holders).
type fakeVolumes struct {
	mu      sync.Mutex
	vols    map[string]VolumeRequest // roots
	created int
	fail    error
	failAt  string
	golden  error
	spaces  map[string]bool
	ids     map[string]string
	snaps   map[string][]Snapshot
	kept    map[string]map[string]string // volume -> kept name -> id
	holders map[string][]Holder
	// released records Release calls.
	released []Holder
	seq      int
	confined map[string]netip.Addr
	keys     map[string]int // volume -> times its key was made anew
	// unseen names volumes Volume says do not exist though they do: another
	// request's clone landing between an enroll's look and its create.
	unseen map[string]bool
	// stall, when not nil, makes Holders hang until it is closed (a hung
	// cluster), after saying so on stalled.
	stall, stalled chan struct{}
}

func (f *fakeVolumes) init() {
	if f.vols == nil {
		f.vols = map[string]VolumeRequest{}
	}
	if f.spaces == nil {
		f.spaces, f.ids, f.snaps = map[string]bool{}, map[string]string{}, map[string][]Snapshot{}
		f.kept, f.holders = map[string]map[string]string{}, map[string][]Holder{}
	}
}

func (f *fakeVolumes) check(step string) error {
	if f.fail != nil {
		return f.fail
	}
	if f.failAt == step {
		return fmt.Errorf("injected failure at %s", step)
	}
	return nil
}

func (f *fakeVolumes) Create(_ context.Context, req VolumeRequest) (*Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if err := f.check("namespace"); err != nil {
		return nil, err
	}
	f.spaces[req.Name] = true
	if _, ok := f.vols[req.Name]; ok {
		return nil, fmt.Errorf("%w: volume %s has a root", ErrExists, req.Name)
	}
	if err := f.check("clone"); err != nil {
		return nil, err
	}
	f.seq++
	f.vols[req.Name], f.ids[req.Name] = req, fmt.Sprint("id", f.seq)
	f.created++
	return f.volume(req.Name), nil
}

func (f *fakeVolumes) volume(name string) *Volume {
	req := f.vols[name]
	return &Volume{Name: name, ID: f.ids[name], SizeBytes: req.SizeBytes, Parent: req.Golden.String()}
}

func (f *fakeVolumes) Remove(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if err := f.check("remove"); err != nil {
		return err
	}
	delete(f.vols, name)
	delete(f.spaces, name)
	delete(f.snaps, name)
	delete(f.kept, name)
	return nil
}

func (f *fakeVolumes) Volume(_ context.Context, name string) (*Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if f.fail != nil {
		return nil, f.fail
	}
	if _, ok := f.vols[name]; !ok || f.unseen[name] {
		return nil, fmt.Errorf("%w: volume %s", ErrNotFound, name)
	}
	return f.volume(name), nil
}

func (f *fakeVolumes) List(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	var out []string
	for n := range f.spaces {
		out = append(out, n)
	}
	for n := range f.vols {
		if !f.spaces[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (f *fakeVolumes) Discard(_ context.Context, name, keep string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if err := f.check("discard"); err != nil {
		return err
	}
	if keep != "" {
		if f.kept[name] == nil {
			f.kept[name] = map[string]string{}
		}
		f.kept[name][keep] = f.ids[name]
	}
	delete(f.vols, name)
	delete(f.snaps, name)
	return nil
}

func (f *fakeVolumes) Snapshot(_ context.Context, name, snap string) (*Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if _, ok := f.vols[name]; !ok {
		return nil, fmt.Errorf("%w: volume %s", ErrNotFound, name)
	}
	s := Snapshot{Name: snap, SizeBytes: f.vols[name].SizeBytes, Created: time.Unix(int64(len(f.snaps[name])), 0)}
	f.snaps[name] = append(f.snaps[name], s)
	return &s, nil
}

func (f *fakeVolumes) Snapshots(_ context.Context, name string) ([]Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	out := slices.Clone(f.snaps[name])
	for k := range f.kept[name] {
		out = append(out, Snapshot{Name: k, Kept: true})
	}
	return out, nil
}

func (f *fakeVolumes) Rollback(_ context.Context, name, snap, replaced string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if len(f.holders[name]) > 0 {
		return fmt.Errorf("%w: held", ErrBusy)
	}
	if id, ok := f.kept[name][snap]; ok {
		f.kept[name][replaced] = f.ids[name]
		delete(f.kept[name], snap)
		f.ids[name] = id
		return nil
	}
	if !slices.ContainsFunc(f.snaps[name], func(s Snapshot) bool { return s.Name == snap }) {
		return fmt.Errorf("%w: no snapshot %s", ErrNotFound, snap)
	}
	return nil
}

func (f *fakeVolumes) Holders(_ context.Context, name string) ([]Holder, error) {
	f.mu.Lock()
	stall, stalled := f.stall, f.stalled
	f.mu.Unlock()
	if stall != nil {
		stalled <- struct{}{}
		<-stall
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if err := f.check("holders"); err != nil {
		return nil, err
	}
	if _, ok := f.vols[name]; !ok {
		return nil, fmt.Errorf("%w: volume %s", ErrNotFound, name)
	}
	return slices.Clone(f.holders[name]), nil
}

func (f *fakeVolumes) Release(_ context.Context, name string, hs []Holder) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	f.released = append(f.released, hs...)
	f.holders[name] = slices.DeleteFunc(f.holders[name], func(h Holder) bool { return slices.Contains(hs, h) })
	return nil
}

func (f *fakeVolumes) Golden(context.Context, GoldenRef, bool) error { return f.golden }

// Key is a key per volume and generation: Rekey changes it.
func (f *fakeVolumes) Key(_ context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("AQ%-38s", fmt.Sprintf("%s.%d", name, f.keys[name])), nil
}

func (f *fakeVolumes) Rekey(_ context.Context, name string, _ GoldenRef) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("rekey"); err != nil {
		return err
	}
	if f.keys == nil {
		f.keys = map[string]int{}
	}
	f.keys[name]++
	delete(f.confined, name)
	return nil
}

func (f *fakeVolumes) Confine(_ context.Context, name string, addr netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	if err := f.check("confine"); err != nil {
		return err
	}
	if f.confined == nil {
		f.confined = map[string]netip.Addr{}
	}
	f.confined[name] = addr
	return nil
}

func (f *fakeVolumes) Target(_ context.Context, name string) (*MapTarget, error) {
	return &MapTarget{Monitors: []string{"198.18.0.1:6789"}, Pool: "rbd", Namespace: name, Image: RootImage, User: name}, nil
}
