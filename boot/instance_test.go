package boot

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memInstances is a memStore that keeps instance records.
type memInstances struct {
	*memStore
	mu   sync.Mutex
	recs map[string]Instance
}

func (m *memInstances) PutInstance(_ context.Context, in Instance) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[in.ID] = in
	return nil
}

func (m *memInstances) Instances(context.Context) ([]Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Instance
	for _, in := range m.recs {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b Instance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (m *memInstances) DeleteInstance(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, id)
	return nil
}

// TestEventsCarryInstance checks that the Service names its instance on
// every event it records, through Record and RecordFetch alike.
func TestEventsCarryInstance(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	svc, err := NewService(Config{Store: st, Catalog: catalog{"debian": debian}, Instance: "boot-1"})
	if err != nil {
		t.Fatal(err)
	}
	mac := MAC{0x52, 0x54, 0, 0, 0, 1}
	ev, err := svc.Record(t.Context(), mac, Event{Stage: StageDHCP, Instance: "forged"})
	if err != nil || ev.Instance != "boot-1" {
		t.Fatalf("Record = %+v, %v; want instance boot-1", ev, err)
	}
	svc.RecordFetch(mac, StageTFTP, netip.MustParseAddr("198.18.0.9"), Fetch{Transport: TFTP, File: "x", Outcome: FetchDone})
	if err := svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	boots, err := st.Timeline(t.Context(), mac)
	if err != nil || len(boots) != 1 || len(boots[0].Events) != 2 {
		t.Fatalf("Timeline = %+v, %v; want one boot of 2 events", boots, err)
	}
	for _, ev := range boots[0].Events {
		if ev.Instance != "boot-1" {
			t.Errorf("stored %s event's instance = %q, want boot-1", ev.Stage, ev.Instance)
		}
	}
}

func TestInstanceName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"boot1", true}, {"rack-2.boot_a", true}, {"", false}, {"a b", false}, {"ü", false},
		{strings.Repeat("a", 63), true}, {strings.Repeat("a", 64), false},
	} {
		if err := ValidInstanceName(tc.name); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("ValidInstanceName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	if _, err := NewService(Config{Store: newMemStore(), Catalog: catalog{}, Instance: "a/b"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewService(instance a/b) = %v, want ErrInvalid", err)
	}
}

// TestInstancesStates checks what Instances makes of the records' ages.
func TestInstancesStates(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := &memInstances{memStore: newMemStore(), recs: map[string]Instance{}}
	for _, in := range []Instance{
		{ID: "me", Seen: now.Add(-5 * time.Second)},
		{ID: "late", Seen: now.Add(-InstanceGoneAfter - time.Second)},
		{ID: "quit", Seen: now.Add(-time.Minute), Stopped: now.Add(-time.Minute)},
		{ID: "ancient", Seen: now.Add(-InstanceKeep - time.Minute)},
	} {
		st.recs[in.ID] = in
	}
	svc, err := NewService(Config{Store: st, Catalog: catalog{}, Instance: "me", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.Instances(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, s := range got {
		states = append(states, s.ID+"="+string(s.State)+map[bool]string{true: "*"}[s.Self])
	}
	if want := []string{"late=gone", "me=alive*", "quit=stopped"}; !slices.Equal(states, want) {
		t.Errorf("Instances() = %v, want %v", states, want)
	}
	// Without an InstanceStore the Service lists itself.
	alone, err := NewService(Config{Store: newMemStore(), Catalog: catalog{}, Instance: "solo"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := alone.Instances(t.Context()); err != nil || len(got) != 1 || got[0].ID != "solo" || !got[0].Self {
		t.Errorf("Instances() without an InstanceStore = %+v, %v; want only solo, self", got, err)
	}
}

// TestNodeFallbacks: a node is told the node listeners of the other
// instances alive, never its own, a gone or stopped one, or one that has
// no node listener to offer.
func TestNodeFallbacks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := &memInstances{memStore: newMemStore(), recs: map[string]Instance{}}
	node := func(ip string) (string, string) { return "https://" + ip + ":8443", strings.Repeat("ab", 32) }
	for _, in := range []Instance{
		{ID: "me", Seen: now},
		{ID: "b", Seen: now.Add(-5 * time.Second)},
		{ID: "a", Seen: now.Add(-5 * time.Second)},
		{ID: "late", Seen: now.Add(-InstanceGoneAfter - time.Second)},
		{ID: "quit", Seen: now.Add(-time.Minute), Stopped: now.Add(-time.Minute)},
		{ID: "nonode", Seen: now},
	} {
		if in.ID != "nonode" {
			in.Node, in.NodePin = node("198.18.0." + fmt.Sprint(len(in.ID)))
		}
		st.recs[in.ID] = in
	}
	svc, err := NewService(Config{Store: st, Catalog: catalog{}, Instance: "me", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range svc.NodeFallbacks(t.Context()) {
		got = append(got, in.ID+" "+in.Node)
	}
	if want := []string{"a https://198.18.0.1:8443", "b https://198.18.0.1:8443"}; !slices.Equal(got, want) {
		t.Errorf("NodeFallbacks() = %q, want %q", got, want)
	}
	alone, err := NewService(Config{Store: newMemStore(), Catalog: catalog{}, Instance: "solo"})
	if err != nil {
		t.Fatal(err)
	}
	if got := alone.NodeFallbacks(t.Context()); len(got) != 0 {
		t.Errorf("NodeFallbacks() without an InstanceStore = %+v, want none", got)
	}
}
