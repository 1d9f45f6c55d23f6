package boot

import (
	"context"
	"slices"
	"sync"
	"testing"
)

// drain returns what ch holds now, without waiting.
func drain(ch <-chan MACEvent) (got []MACEvent, closed bool) {
	for {
		select {
		case r, ok := <-ch:
			if !ok {
				return got, true
			}
			got = append(got, r)
		default:
			return got, false
		}
	}
}

func stages(rs []MACEvent) []Stage {
	var out []Stage
	for _, r := range rs {
		out = append(out, r.Event.Stage)
	}
	return out
}

func TestWatchDelivers(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	other := MAC{0x52, 0x54, 0, 0, 0, 9}
	one, all := s.Watch(testMAC), s.Watch(nil)
	defer one.Close()
	defer all.Close()
	for _, r := range []struct {
		mac   MAC
		stage Stage
	}{{testMAC, StageDHCP}, {other, StageDHCP}, {testMAC, StageKernel}, {testMAC, StageFailed}} {
		if _, err := s.Record(ctx, r.mac, Event{Stage: r.stage, Detail: "d"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Record(ctx, testMAC, Event{Stage: "bogus"}); err == nil {
		t.Fatal("Record(bogus) = nil error")
	}
	got, closed := drain(one.Events())
	if want := []Stage{StageDHCP, StageKernel, StageFailed}; !slices.Equal(stages(got), want) || closed {
		t.Errorf("Watch(%v) got %v (closed %v), want %v", testMAC, stages(got), closed, want)
	}
	if got[0].MAC.String() != testMAC.String() || got[0].Event.Boot != 1 || got[0].Event.Time.IsZero() {
		t.Errorf("Watch(%v) first = %+v, want the event as stored (boot 1, a time)", testMAC, got[0])
	}
	got, _ = drain(all.Events())
	if len(got) != 4 || got[1].MAC.String() != other.String() {
		t.Errorf("Watch(nil) got %d events (second for %v), want 4 with the second for %v", len(got), got[1].MAC, other)
	}
	if n := s.Watching(); n != 2 {
		t.Errorf("Watching() = %d, want 2", n)
	}
}

func TestWatchDropsSlowReader(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	slow, fast := s.Watch(testMAC), s.Watch(testMAC)
	defer fast.Close()
	for i := 0; i < SubscriptionBuffer+5; i++ {
		if _, err := s.Record(ctx, testMAC, Event{Stage: StageTFTP}); err != nil {
			t.Fatal(err)
		}
		drain(fast.Events())
	}
	got, closed := drain(slow.Events())
	if len(got) != SubscriptionBuffer || !closed || !slow.Dropped() {
		t.Errorf("slow reader: %d events, closed %v, dropped %v; want %d, closed, dropped",
			len(got), closed, slow.Dropped(), SubscriptionBuffer)
	}
	if fast.Dropped() {
		t.Errorf("a reader that kept up was dropped")
	}
	slow.Close() // after the drop: no panic
	if n := s.Watching(); n != 1 {
		t.Errorf("Watching() = %d after a drop, want 1", n)
	}
}

func TestWatchClose(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	sub := s.Watch(nil)
	sub.Close()
	sub.Close()
	if _, ok := <-sub.Events(); ok {
		t.Errorf("Events() open after Close")
	}
	if sub.Dropped() {
		t.Errorf("Dropped() = true after Close, want false")
	}
	if _, err := s.Record(context.Background(), testMAC, Event{Stage: StageDHCP}); err != nil {
		t.Fatal(err) // publishing to no one must not panic on the closed channel
	}
	if n := s.Watching(); n != 0 {
		t.Errorf("Watching() = %d after Close, want 0", n)
	}
}

// TestWatchConcurrent runs recorders, readers and closers at once; the race
// detector and the counts tell whether the hub holds together.
func TestWatchConcurrent(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			mac := MAC{0x52, 0x54, 0, 0, 1, byte(i)}
			for range 200 {
				if _, err := s.Record(ctx, mac, Event{Stage: StageDHCP}); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for range 50 {
				sub := s.Watch(nil)
				drain(sub.Events())
				sub.Close()
			}
		})
	}
	wg.Wait()
	if n := s.Watching(); n != 0 {
		t.Errorf("Watching() = %d after every reader closed, want 0", n)
	}
}

func TestChangesSince(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	other := MAC{0x52, 0x54, 0, 0, 0, 9}
	mark := s.ChangeMark()
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "debian"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: other, Image: "nope"}); err == nil {
		t.Fatal("Enroll(unknown image) = nil error")
	}
	if _, err := s.Record(ctx, testMAC, Event{Stage: StageDHCP}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Discover(ctx, Sighting{MAC: other}); err != nil {
		t.Fatal(err)
	}
	changed, next, ok := s.ChangesSince(mark)
	got := []string{}
	for _, m := range changed {
		got = append(got, m.String())
	}
	if want := []string{testMAC.String(), other.String()}; !ok || !slices.Equal(got, want) {
		t.Errorf("ChangesSince = %v, %v; want %v, true (each MAC once, refusals not noted)", got, ok, want)
	}
	if changed, _, ok := s.ChangesSince(next); !ok || len(changed) != 0 {
		t.Errorf("ChangesSince(next) = %v, %v; want none, true", changed, ok)
	}
	if err := s.Forget(ctx, other); err != nil {
		t.Fatal(err)
	}
	if changed, _, _ := s.ChangesSince(next); len(changed) != 1 || changed[0].String() != other.String() {
		t.Errorf("ChangesSince after Forget = %v, want [%v]", changed, other)
	}
	for range changeLogSize {
		if _, err := s.Discover(ctx, Sighting{MAC: other}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, ok := s.ChangesSince(next); ok {
		t.Errorf("ChangesSince past the log's size = ok, want not ok")
	}
	if _, _, ok := s.ChangesSince(s.ChangeMark() + 1); ok {
		t.Errorf("ChangesSince(a mark from the future) = ok, want not ok")
	}
}
