package storetest

// The contract's tests of the instances' heartbeats (boot.InstanceStore).

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
)

func testInstances(t *testing.T, a, b Backend) {
	ctx := t.Context()
	if got, err := b.Instances.Instances(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Instances() of a new store = %v, %v; want none", got, err)
	}
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 123, time.UTC)
	x := boot.Instance{ID: "boot-x", Addr: "http://198.18.0.1:8080", Version: "v1", Started: t0, Seen: t0}
	y := boot.Instance{ID: "boot-a", Addr: "http://198.18.0.2:8080", Version: "v2", Started: t0, Seen: t0}
	for _, put := range []struct {
		s  boot.InstanceStore
		in boot.Instance
	}{{a.Instances, x}, {b.Instances, y}} {
		if err := put.s.PutInstance(ctx, put.in); err != nil {
			t.Fatalf("PutInstance(%s): %v", put.in.ID, err)
		}
	}
	x.Seen, x.Stopped = t0.Add(10*time.Second), t0.Add(11*time.Second) // replaces
	if err := b.Instances.PutInstance(ctx, x); err != nil {
		t.Fatal(err)
	}
	if err := a.Instances.PutInstance(ctx, boot.Instance{ID: "no spaces"}); !errors.Is(err, boot.ErrInvalid) {
		t.Errorf("PutInstance(an invalid name) = %v, want ErrInvalid", err)
	}
	got, err := a.Instances.Instances(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("Instances() = %v, %v; want 2", got, err)
	}
	if g := got[0]; g.ID != y.ID || g.Addr != y.Addr || g.Version != y.Version || !g.Seen.Equal(t0) || !g.Stopped.IsZero() {
		t.Errorf("Instances()[0] = %+v, want %+v (sorted by ID)", g, y)
	}
	if g := got[1]; g.ID != x.ID || !g.Started.Equal(t0) || !g.Seen.Equal(x.Seen) || !g.Stopped.Equal(x.Stopped) {
		t.Errorf("Instances()[1] = %+v, want %+v", g, x)
	}
	for _, id := range []string{x.ID, x.ID, "never-was"} { // deleting none is fine
		if err := b.Instances.DeleteInstance(ctx, id); err != nil {
			t.Errorf("DeleteInstance(%s): %v", id, err)
		}
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			in := boot.Instance{ID: fmt.Sprintf("boot-%02d", i), Seen: t0}
			if err := []boot.InstanceStore{a.Instances, b.Instances}[i%2].PutInstance(ctx, in); err != nil {
				t.Errorf("PutInstance(%s): %v", in.ID, err)
			}
		})
	}
	wg.Wait()
	if got, err := b.Instances.Instances(ctx); err != nil || len(got) != 21 || got[0].ID != "boot-00" || got[20].ID != y.ID {
		t.Errorf("Instances() after concurrent puts = %d records, %v; want 21, boot-00 first, %s last", len(got), err, y.ID)
	}
}

// testHeartbeat runs a Service's heartbeat on one handle and watches it
// from the other: its record appears, a record silent for a day is pruned,
// and at its end the record says it stopped.
func testHeartbeat(t *testing.T, a, b Backend) {
	stale := boot.Instance{ID: "boot-old", Seen: time.Now().Add(-boot.InstanceKeep - time.Hour)}
	if err := a.Instances.PutInstance(t.Context(), stale); err != nil {
		t.Fatal(err)
	}
	svc, err := boot.NewService(boot.Config{Store: b.Store, Catalog: Catalog{}, Instance: "boot-b"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		svc.Heartbeat(ctx, boot.Instance{ID: "ignored", Addr: "http://198.18.0.3:8080", Version: "v3"})
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := a.Instances.Instances(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 && got[0].ID == "boot-b" {
			if g := got[0]; g.Addr != "http://198.18.0.3:8080" || g.Version != "v3" || g.Seen.IsZero() || !g.Stopped.IsZero() {
				t.Errorf("heartbeat record = %+v, want boot-b's address, version v3, seen, not stopped", g)
			}
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("Instances() while boot-b beats = %+v, want only boot-b (boot-old pruned)", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	st, err := svc.Instances(t.Context())
	if err != nil || len(st) != 1 || st[0].State != boot.InstanceStopped || !st[0].Self || st[0].Stopped.IsZero() {
		t.Errorf("Instances() after the heartbeat ended = %+v, %v; want boot-b, stopped, self", st, err)
	}
}
