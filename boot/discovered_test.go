package boot

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tickClock is a clock that moves one second forward each time it is read.
type tickClock struct{ n atomic.Int64 }

func (c *tickClock) now() time.Time {
	return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).Add(time.Duration(c.n.Add(1)) * time.Second)
}

// handClock is a clock moved by hand.
type handClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *handClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *handClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newBoundService(t *testing.T, max, perMinute int, now func() time.Time) (*Service, *memStore) {
	t.Helper()
	st := newMemStore()
	s, err := NewService(Config{Store: st, Catalog: catalog{"debian": debian}, Now: now,
		DiscoveredMax: max, DiscoveredRate: perMinute})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// randomMAC is a locally administered MAC with 40 random bits.
func randomMAC(r *rand.Rand) MAC {
	v := r.Uint64()
	return MAC{0x02, byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// discoveredMACs returns the MACs of the discovered nodes in st, sorted.
func discoveredMACs(t *testing.T, st Store) []string {
	t.Helper()
	nodes, err := st.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes {
		if n.State == StateDiscovered {
			out = append(out, n.MAC.String())
		}
	}
	return out
}

// countDiscovered counts the discovered nodes in st, quickly.
func countDiscovered(st *memStore) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for _, node := range st.nodes {
		if node.State == StateDiscovered {
			n++
		}
	}
	return n
}

// A flood of sightings of random MACs, some seen again, with an enrolled
// machine among them: the store keeps the cap's worth of discovered
// machines, the ones seen last, and the enrolled machine as it was.
func TestDiscoveredFloodKeepsNewest(t *testing.T) {
	t.Parallel()
	const max, sightings = 50, 5000
	clock := &tickClock{}
	s, st := newBoundService(t, max, 1_000_000, clock.now)
	ctx := t.Context()
	enrolled, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "debian", Hostname: "keep"})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(15, 1))
	last := map[string]int{} // MAC → index of its last sighting
	created := 0
	var seen []MAC
	for i := range sightings {
		mac := randomMAC(r)
		switch {
		case i%100 == 7:
			mac = testMAC // the enrolled machine is seen too
		case i%10 == 3 && len(seen) > 0:
			mac = seen[r.IntN(len(seen))] // seen before, perhaps forgotten since
		}
		if _, err := st.Node(ctx, mac); err != nil {
			created++
		}
		n, err := s.Discover(ctx, Sighting{MAC: mac, Arch: "x64-uefi"})
		if err != nil || n == nil {
			t.Fatalf("Discover(%s) = %v, %v; want a node", mac, n, err)
		}
		if !slices.Equal(mac, testMAC) {
			seen = append(seen, mac)
			last[mac.String()] = i
		}
		if got := countDiscovered(st); got > max {
			t.Fatalf("after sighting %d the store holds %d discovered machines, want at most %d", i, got, max)
		}
	}
	var want []string
	for mac := range last {
		want = append(want, mac)
	}
	slices.SortFunc(want, func(a, b string) int { return last[b] - last[a] }) // newest first
	want = want[:max]
	slices.Sort(want)
	if got := discoveredMACs(t, st); !slices.Equal(got, want) {
		t.Errorf("discovered machines kept:\n%v\nwant the %d seen last:\n%v", got, max, want)
	}
	n, err := s.Node(ctx, testMAC)
	if err != nil || n.State != StateEnrolled || n.Hostname != "keep" || n.Image != enrolled.Image {
		t.Errorf("enrolled machine after the flood = %+v, %v; want it enrolled as before", n, err)
	}
	stats := s.DiscoveryStats()
	if wantPruned := int64(created - max); stats.Pruned != wantPruned || stats.LastPruned.IsZero() || stats.Refused != 0 {
		t.Errorf("DiscoveryStats() = %+v, want Pruned %d, LastPruned set, Refused 0", stats, wantPruned)
	}
}

// Concurrent floods never take the store over the cap, not even for a moment.
func TestDiscoveredFloodConcurrent(t *testing.T) {
	t.Parallel()
	const max, workers, each = 50, 8, 250
	clock := &tickClock{}
	s, st := newBoundService(t, max, 1_000_000, clock.now)
	ctx := t.Context()
	done := make(chan struct{})
	var over atomic.Int64
	var checker sync.WaitGroup
	checker.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if n := countDiscovered(st); n > max {
				over.Store(int64(n))
			}
		}
	})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for range each {
				if _, err := s.Discover(ctx, Sighting{MAC: randomMAC(r)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	checker.Wait()
	if n := over.Load(); n != 0 {
		t.Errorf("the store held %d discovered machines during the flood, want at most %d", n, max)
	}
	if got := len(discoveredMACs(t, st)); got != max {
		t.Errorf("after the flood the store holds %d discovered machines, want %d", got, max)
	}
	if got, want := s.DiscoveryStats().Pruned, int64(workers*each-max); got != want {
		t.Errorf("DiscoveryStats().Pruned = %d, want %d", got, want)
	}
}

// A discovered machine that is enrolled stops counting: the next new one
// makes nobody leave.
func TestDiscoveredEnrolledStopsCounting(t *testing.T) {
	t.Parallel()
	const max = 5
	clock := &tickClock{}
	s, st := newBoundService(t, max, 0, clock.now)
	ctx := t.Context()
	r := rand.New(rand.NewPCG(3, 3))
	var macs []MAC
	for range max {
		mac := randomMAC(r)
		macs = append(macs, mac)
		if _, err := s.Discover(ctx, Sighting{MAC: mac}); err != nil {
			t.Fatal(err)
		}
	}
	enrolled := macs[max-1] // the one seen last: were it counted, the oldest would go
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: enrolled, Image: "debian"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Discover(ctx, Sighting{MAC: randomMAC(r)}); err != nil {
		t.Fatal(err)
	}
	if got := len(discoveredMACs(t, st)); got != max {
		t.Errorf("discovered machines = %d, want %d", got, max)
	}
	if p := s.DiscoveryStats().Pruned; p != 0 {
		t.Errorf("DiscoveryStats().Pruned = %d, want 0: the enrolled machine freed a place", p)
	}
	// One more: the oldest discovered (macs[0]) goes, the enrolled stays.
	if _, err := s.Discover(ctx, Sighting{MAC: randomMAC(r)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Node(ctx, macs[0]); err == nil {
		t.Errorf("the oldest discovered machine %s is still stored", macs[0])
	}
	if n, err := s.Node(ctx, enrolled); err != nil || n.State != StateEnrolled {
		t.Errorf("Node(%s) = %v, %v; want it enrolled", enrolled, n, err)
	}
}

// New machines are recorded at the configured rate; the rest are refused
// and counted, while machines already known are refreshed all the same.
func TestDiscoveredRate(t *testing.T) {
	t.Parallel()
	clock := &handClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	s, st := newBoundService(t, 1000, 10, clock.now)
	ctx := t.Context()
	r := rand.New(rand.NewPCG(4, 4))
	sight := func(mac MAC) *Node {
		t.Helper()
		n, err := s.Discover(ctx, Sighting{MAC: mac})
		if err != nil {
			t.Fatalf("Discover(%s) = %v", mac, err)
		}
		return n
	}
	var known MAC
	for i := range 10 {
		mac := randomMAC(r)
		if sight(mac) == nil {
			t.Fatalf("new sighting %d of the burst refused, want the 10 of a minute's budget recorded", i)
		}
		known = mac
	}
	for range 5 {
		if n := sight(randomMAC(r)); n != nil {
			t.Fatalf("Discover of an 11th new machine in the same instant = %v, want refused (nil)", n)
		}
	}
	clock.advance(time.Second)
	if n := sight(known); n == nil || !n.LastSeen.Equal(clock.now()) {
		t.Fatalf("Discover of a known machine while new ones are refused = %v, want it refreshed", n)
	}
	if got := s.DiscoveryStats(); got.Refused != 5 || got.PerMinute != 10 {
		t.Errorf("DiscoveryStats() = %+v, want Refused 5, PerMinute 10", got)
	}
	clock.advance(29 * time.Second) // half a minute: 5 more
	accepted := 0
	for range 8 {
		if sight(randomMAC(r)) != nil {
			accepted++
		}
	}
	if accepted != 5 {
		t.Errorf("after 30 s, %d of 8 new machines recorded, want 5", accepted)
	}
	if got := len(discoveredMACs(t, st)); got != 15 {
		t.Errorf("discovered machines stored = %d, want 15", got)
	}
	if got := s.DiscoveryStats().Refused; got != 8 {
		t.Errorf("DiscoveryStats().Refused = %d, want 8", got)
	}
	clock.advance(time.Hour) // the bucket fills up to a minute's worth, no more
	accepted = 0
	for range 20 {
		if sight(randomMAC(r)) != nil {
			accepted++
		}
	}
	if accepted != 10 {
		t.Errorf("after an hour, %d of 20 new machines recorded, want 10 (the burst)", accepted)
	}
}

func TestDiscoveredConfig(t *testing.T) {
	t.Parallel()
	s, _ := newBoundService(t, 0, 0, nil)
	if got := s.DiscoveryStats(); got.Max != DefaultDiscoveredMax || got.PerMinute != DefaultDiscoveredRate {
		t.Errorf("DiscoveryStats() with a zero Config = %+v, want the defaults %d and %d", got, DefaultDiscoveredMax, DefaultDiscoveredRate)
	}
	if _, err := NewService(Config{Store: newMemStore(), Catalog: catalog{}, DiscoveredMax: -1}); err == nil {
		t.Error("NewService with DiscoveredMax -1 succeeded, want an error")
	}
}

// scanHookStore calls after once, after the first Nodes call that finds
// the store full of discovered machines.
type scanHookStore struct {
	*memStore
	full  int
	once  sync.Once
	after func()
}

func (h *scanHookStore) Nodes(ctx context.Context) ([]*Node, error) {
	nodes, err := h.memStore.Nodes(ctx)
	if countDiscovered(h.memStore) >= h.full {
		h.once.Do(h.after)
	}
	return nodes, err
}

// A machine enrolled between the count and the pruning is not pruned.
func TestDiscoveredPruneSparesEnrolledMeanwhile(t *testing.T) {
	t.Parallel()
	const max = 3
	clock := &tickClock{}
	st := &scanHookStore{memStore: newMemStore(), full: max}
	s, err := NewService(Config{Store: st, Catalog: catalog{"debian": debian}, Now: clock.now, DiscoveredMax: max})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	r := rand.New(rand.NewPCG(5, 5))
	var macs []MAC
	for range max {
		macs = append(macs, randomMAC(r))
		if _, err := s.Discover(ctx, Sighting{MAC: macs[len(macs)-1]}); err != nil {
			t.Fatal(err)
		}
	}
	st.after = func() { // enrolled by someone else, while the Service makes room
		st.mu.Lock()
		defer st.mu.Unlock()
		st.nodes[macs[0].String()].State = StateEnrolled
	}
	if _, err := s.Discover(ctx, Sighting{MAC: randomMAC(r)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Node(ctx, macs[0]); err != nil || n.State != StateEnrolled {
		t.Errorf("Node(%s) = %v, %v; want the machine enrolled meanwhile kept", macs[0], n, err)
	}
	if got := countDiscovered(st.memStore); got != max {
		t.Errorf("discovered machines = %d, want %d", got, max)
	}
}
