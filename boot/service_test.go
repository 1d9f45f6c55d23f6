package boot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

// memStore is an in-memory Store for the domain's unit tests.
type memStore struct {
	mu      sync.Mutex
	nodes   map[string]*Node
	events  map[string][]Event
	intents map[string]Intent // see volumes_fake_test.go
}

func newMemStore() *memStore {
	return &memStore{nodes: map[string]*Node{}, events: map[string][]Event{}}
}

func (m *memStore) Node(_ context.Context, mac MAC) (*Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[mac.String()]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknown, mac)
	}
	return n.Clone(), nil
}

func (m *memStore) Nodes(context.Context) ([]*Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Node
	for _, n := range m.nodes {
		out = append(out, n.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MAC.String() < out[j].MAC.String() })
	return out, nil
}

func (m *memStore) Update(_ context.Context, mac MAC, fn func(*Node) (*Node, error)) (*Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur *Node
	if n, ok := m.nodes[mac.String()]; ok {
		cur = n.Clone()
	}
	next, err := fn(cur)
	if err != nil {
		return nil, err
	}
	if next == nil {
		return nil, fmt.Errorf("update %s: no node to store", mac)
	}
	m.nodes[mac.String()] = next.Clone()
	return next, nil
}

func (m *memStore) Delete(_ context.Context, mac MAC, check func(*Node) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if check != nil {
		var cur *Node
		if n, ok := m.nodes[mac.String()]; ok {
			cur = n.Clone()
		}
		if err := check(cur); err != nil {
			return err
		}
	}
	delete(m.nodes, mac.String())
	delete(m.events, mac.String())
	return nil
}

func (m *memStore) AppendEvent(_ context.Context, mac MAC, ev Event, p TimelinePolicy) (Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.events[mac.String()]
	ev.Boot = 1
	if len(evs) > 0 {
		last := evs[len(evs)-1]
		ev.Boot = last.Boot
		if p.NewBoot(&last, ev) {
			ev.Boot++
		}
	}
	m.events[mac.String()] = append(evs, ev)
	if n, ok := m.nodes[mac.String()]; ok {
		p.Apply(n, ev)
	}
	return ev, nil
}

func (m *memStore) Timeline(_ context.Context, mac MAC) ([]Boot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Boot
	for _, ev := range m.events[mac.String()] {
		if len(out) == 0 || out[len(out)-1].Seq != ev.Boot {
			out = append(out, Boot{Seq: ev.Boot})
		}
		out[len(out)-1].Events = append(out[len(out)-1].Events, ev)
	}
	return out, nil
}

type catalog map[string]*Image

func (c catalog) Image(_ context.Context, name string) (*Image, error) {
	if img, ok := c[name]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownImage, name)
}

func (c catalog) Images(context.Context) ([]*Image, error) {
	var out []*Image
	for _, img := range c {
		out = append(out, img)
	}
	return out, nil
}

var (
	testMAC = MAC{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	debian  = &Image{Name: "debian", Flavour: FlavourInitramfsTools, Arch: "amd64", Kernel: "/k",
		Golden: GoldenRef{Pool: "rbd", Namespace: "golden", Image: "debian", Snapshot: "v1"}, SizeBytes: 20 << 30}
	alpine = &Image{Name: "alpine", Flavour: FlavourAlpine, Arch: "amd64", Kernel: "/k",
		Golden: GoldenRef{Image: "alpine", Snapshot: "v1"}, SizeBytes: 8 << 30}
)

func newTestService(t *testing.T, vols Volumes) (*Service, *memStore) {
	t.Helper()
	st := newMemStore()
	s, err := NewService(Config{Store: st, Catalog: catalog{"debian": debian, "alpine": alpine}, Volumes: vols,
		Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func TestEnrollWithoutVolumes(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	n, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "debian"})
	if err != nil {
		t.Fatal(err)
	}
	if n.Volume != "" || n.Hostname != "node-525400123456" || n.SizeBytes != 20<<30 || !n.Netboot || n.State != StateEnrolled {
		t.Errorf("Enroll = %+v; want no volume, default hostname and size, netboot on, enrolled", n)
	}
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "debian"}); !errors.Is(err, ErrExists) {
		t.Errorf("second Enroll = %v, want ErrExists", err)
	}
	if _, err := s.Reimage(ctx, testMAC); !errors.Is(err, ErrNoVolumes) {
		t.Errorf("Reimage without volumes = %v, want ErrNoVolumes", err)
	}
}

func TestEnrollRefusals(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		req  EnrollRequest
		want error
	}{
		{EnrollRequest{Image: "debian"}, ErrInvalid},
		{EnrollRequest{MAC: testMAC, Image: "nope"}, ErrUnknownImage},
		{EnrollRequest{MAC: testMAC, Image: "debian", Hostname: "Bad_Name"}, ErrInvalid},
		{EnrollRequest{MAC: testMAC, Image: "debian", SizeBytes: -5}, ErrInvalid},
	} {
		if _, err := s.Enroll(ctx, tc.req); !errors.Is(err, tc.want) {
			t.Errorf("Enroll(%+v) = %v, want %v", tc.req, err, tc.want)
		}
	}
	if _, err := s.Node(ctx, testMAC); !errors.Is(err, ErrUnknown) {
		t.Errorf("refused enrolls stored a node: Node = %v", err)
	}
}

func TestEnrollDiscoveredKeepsSighting(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	if _, err := s.Discover(ctx, Sighting{MAC: testMAC, Arch: "x64-uefi", VendorClass: "PXEClient:Arch:00007"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, testMAC); !errors.Is(err, ErrUnknown) {
		t.Errorf("Resolve(discovered) = %v, want ErrUnknown", err)
	}
	disc, _ := s.Nodes(ctx, StateDiscovered)
	if len(disc) != 1 {
		t.Fatalf("Nodes(discovered) = %d nodes, want 1", len(disc))
	}
	n, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "alpine", Hostname: "pi1"})
	if err != nil {
		t.Fatal(err)
	}
	if n.Arch != "x64-uefi" || n.State != StateEnrolled || n.Hostname != "pi1" {
		t.Errorf("Enroll of discovered = %+v; want arch kept, enrolled, hostname pi1", n)
	}
}

func TestLifecycleWithVolumes(t *testing.T) {
	t.Parallel()
	vols := &fakeVolumes{vols: map[string]VolumeRequest{}}
	s, _ := newTestService(t, vols)
	ctx := context.Background()
	n, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "debian", SizeBytes: 30 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if n.Volume != "node-525400123456" || vols.vols[n.Volume].SizeBytes != 30<<30 || vols.vols[n.Volume].Golden != debian.Golden {
		t.Errorf("Enroll with volumes = %+v, volumes %+v", n, vols.vols)
	}
	if _, err := s.Assign(ctx, testMAC, "alpine"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reimage(ctx, testMAC); err != nil {
		t.Fatal(err)
	}
	if got := vols.vols["node-525400123456"].Golden; got != alpine.Golden || vols.created != 2 {
		t.Errorf("Reimage after Assign cloned %v (%d creates), want %v", got, vols.created, alpine.Golden)
	}
	if err := s.Forget(ctx, testMAC); !errors.Is(err, ErrInvalid) {
		t.Errorf("Forget of a node with a volume = %v, want ErrInvalid", err)
	}
	vols.fail = errors.New("ceph down")
	other := MAC{0x52, 0x54, 0, 0, 0, 1}
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: other, Image: "debian"}); err == nil {
		t.Errorf("Enroll with a failing backend = nil error")
	}
	if _, err := s.Node(ctx, other); !errors.Is(err, ErrUnknown) {
		t.Errorf("failed Enroll left a node: %v", err)
	}
}

func TestResolveAndNetboot(t *testing.T) {
	t.Parallel()
	s, st := newTestService(t, nil)
	ctx := context.Background()
	if _, err := s.Resolve(ctx, testMAC); !errors.Is(err, ErrUnknown) {
		t.Errorf("Resolve(unknown) = %v, want ErrUnknown", err)
	}
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "debian"}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Resolve(ctx, testMAC)
	if err != nil || !p.Netboot || p.Image != debian || p.Problem != "" {
		t.Errorf("Resolve = %+v, %v; want netboot with debian", p, err)
	}
	if _, err := s.SetNetboot(ctx, testMAC, false); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Resolve(ctx, testMAC); p.Netboot {
		t.Errorf("Resolve after SetNetboot(false) has Netboot on")
	}
	st.nodes[testMAC.String()].Image = "gone"
	if p, err := s.Resolve(ctx, testMAC); err != nil || p.Image != nil || p.Problem == "" {
		t.Errorf("Resolve with a missing image = %+v, %v; want a Problem", p, err)
	}
	if _, err := s.SetNetboot(ctx, MAC{1, 2, 3, 4, 5, 6}, true); !errors.Is(err, ErrUnknown) {
		t.Errorf("SetNetboot(unknown) = %v, want ErrUnknown", err)
	}
}

func TestRecordMovesState(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "debian"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, testMAC, Event{Stage: "bogus"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Record(bogus stage) = %v, want ErrInvalid", err)
	}
	for _, tc := range []struct {
		stage Stage
		want  State
	}{{StageDHCP, StateBooting}, {StageKernel, StateBooting}, {StageRoot, StateUp}, {StageDHCP, StateBooting}, {StageFailed, StateFailed}} {
		if _, err := s.Record(ctx, testMAC, Event{Stage: tc.stage, Source: "198.18.0.9"}); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Node(ctx, testMAC); n.State != tc.want || n.LastStage != tc.stage {
			t.Errorf("after %s: state %s, last stage %s; want %s", tc.stage, n.State, n.LastStage, tc.want)
		}
	}
	boots, _ := s.Timeline(ctx, testMAC)
	if len(boots) != 2 {
		t.Errorf("Timeline has %d boots, want 2 (a DHCP after root starts a new one)", len(boots))
	}
}

func TestNewBoot(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		last  *Event
		ev    Event
		want  bool
		about string
	}{
		{nil, Event{Stage: StageTFTP, Time: t0}, true, "first event"},
		{&Event{Stage: StageTFTP, Time: t0}, Event{Stage: StageDHCP, Time: t0.Add(time.Second)}, false, "iPXE's DHCP after the firmware's TFTP"},
		{&Event{Stage: StageKernel, Time: t0}, Event{Stage: StageDHCP, Time: t0.Add(time.Second)}, true, "DHCP after kernel"},
		{&Event{Stage: StageScript, Time: t0}, Event{Stage: StageDHCP, Time: t0.Add(10 * time.Minute)}, true, "DHCP after a quiet spell"},
		{&Event{Stage: StageKernel, Time: t0}, Event{Stage: StageInitrd, Time: t0.Add(time.Second)}, false, "initrd after kernel"},
	} {
		if got := newBoot(tc.last, tc.ev); got != tc.want {
			t.Errorf("newBoot(%s) = %v, want %v", tc.about, got, tc.want)
		}
	}
}
