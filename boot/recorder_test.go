package boot

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// gatedStore holds every event write until its gate opens, so that a test
// can fill the recorder's queue while its writer is busy; with batch set it
// also appends batches (optionally failing them).
type gatedStore struct {
	*memStore
	gate      chan struct{}
	mu        sync.Mutex
	batches   []int // sizes of the batches appended
	failBatch bool
}

func (g *gatedStore) AppendEvent(ctx context.Context, mac MAC, ev Event, p TimelinePolicy) (Event, error) {
	<-g.gate
	return g.memStore.AppendEvent(ctx, mac, ev, p)
}

// batchStore is a gatedStore that can append batches.
type batchStore struct{ *gatedStore }

func (b batchStore) AppendEvents(ctx context.Context, evs []MACEvent, p TimelinePolicy) ([]Event, error) {
	<-b.gate
	b.mu.Lock()
	b.batches = append(b.batches, len(evs))
	fail := b.failBatch
	b.mu.Unlock()
	if fail {
		return nil, errors.New("batch refused")
	}
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i], _ = b.memStore.AppendEvent(ctx, e.MAC, e.Event, p)
	}
	return out, nil
}

func newGatedService(t *testing.T, batch bool) (*Service, *gatedStore) {
	t.Helper()
	g := &gatedStore{memStore: newMemStore(), gate: make(chan struct{})}
	var st Store = g
	if batch {
		st = batchStore{g}
	}
	svc, err := NewService(Config{Store: st, Catalog: catalog{"debian": debian}})
	if err != nil {
		t.Fatal(err)
	}
	return svc, g
}

// enrolled enrolls mac (no volumes, so the gate does not hold it).
func enrolled(t *testing.T, svc *Service, s string) MAC {
	t.Helper()
	mac, err := ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Enroll(t.Context(), EnrollRequest{MAC: mac, Image: "debian"}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// taken waits until the writer has taken the queue (and sits at the gate).
func taken(t *testing.T, svc *Service) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		svc.rec.mu.Lock()
		n := len(svc.rec.queue)
		svc.rec.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer did not take the queue")
		}
	}
}

// node is the address the test nodes fetch from.
var node = netip.MustParseAddr("198.18.0.9")

// httpFetch is a finished HTTP fetch of file.
func httpFetch(file string, bytes int64, took time.Duration) Fetch {
	return Fetch{Transport: HTTP, File: file, Outcome: FetchDone, Bytes: bytes, Size: bytes, Duration: took}
}

func details(t *testing.T, svc *Service, mac MAC) []string {
	t.Helper()
	boots, err := svc.Timeline(t.Context(), mac)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range boots {
		for _, ev := range b.Events {
			out = append(out, string(ev.Stage)+" "+ev.Text())
		}
	}
	return out
}

// TestRecordFetchOrder checks that events recorded with RecordFetch and with
// Record are written in the order they were recorded, that Record returns
// only once its event is stored, and that repeats of one fetch are folded
// while fetches of other files are not.
func TestRecordFetchOrder(t *testing.T) {
	t.Parallel()
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			t.Parallel()
			svc, g := newGatedService(t, batch)
			mac := enrolled(t, svc, "52:54:00:00:00:01")
			// The first event starts the writer, which waits at the gate with it;
			// the rest queue up behind it.
			svc.RecordFetch(mac, StageScript, node, httpFetch("boot.ipxe", 400, 0))
			taken(t, svc)
			for i := range 5 {
				svc.RecordFetch(mac, StageKernel, node, httpFetch("kernel", 9, time.Duration(i)*time.Millisecond))
			}
			svc.RecordFetch(mac, StageInitrd, node, httpFetch("initrd/0", 1, 0))
			svc.RecordFetch(mac, StageInitrd, node, httpFetch("initrd/1", 2, time.Millisecond))
			svc.RecordFetch(mac, StageInitrd, node, httpFetch("initrd/1", 2, 3*time.Millisecond))
			svc.RecordFetch(mac, StageInitrd, node, Fetch{Transport: HTTP, File: "initrd/1", Outcome: FetchAborted, Bytes: 1, Size: 2})
			recorded := make(chan Event, 1)
			go func() {
				ev, err := svc.Record(context.Background(), mac, Event{Stage: StageNetwork, Source: "198.18.0.9", Detail: "up"})
				if err != nil {
					t.Error(err)
				}
				recorded <- ev
			}()
			time.Sleep(20 * time.Millisecond) // Record has queued its event
			svc.RecordFetch(mac, StageKernel, node, httpFetch("kernel", 9, 0))
			select {
			case <-recorded:
				t.Fatal("Record returned before its event was written")
			case <-time.After(50 * time.Millisecond):
			}
			close(g.gate)
			if ev := <-recorded; ev.Boot != 1 || ev.Stage != StageNetwork {
				t.Errorf("Record returned %+v, want the stored network event of boot 1", ev)
			}
			if err := svc.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := details(t, svc, mac)
			want := []string{
				"script http boot.ipxe: 400 bytes in 0s",
				"kernel http kernel: 9 bytes in 0s (and 4 more like it)",
				"initrd http initrd/0: 1 bytes in 0s",
				"initrd http initrd/1: 2 bytes in 1ms (and 1 more like it)",
				"initrd http initrd/1: aborted after 1 of 2 bytes",
				"network up",
				"kernel http kernel: 9 bytes in 0s",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			n, _ := svc.Node(t.Context(), mac)
			if n.LastStage != StageKernel {
				t.Errorf("node's last stage = %q, want kernel (the newest event)", n.LastStage)
			}
		})
	}
}

// TestRecordFetchLimit checks that a node cannot queue more than soonPerNode
// distinct events while the writer is busy, that the rest are counted, and
// that a waiting Record is never dropped.
func TestRecordFetchLimit(t *testing.T) {
	t.Parallel()
	svc, g := newGatedService(t, true)
	mac := enrolled(t, svc, "52:54:00:00:00:02")
	for i := range soonPerNode + 11 {
		svc.RecordFetch(mac, StageTFTP, node, Fetch{Transport: TFTP, File: fmt.Sprintf("file%d", i), Outcome: FetchDone, Bytes: 1})
		if i == 0 {
			taken(t, svc) // the writer holds the first; 32 more queue, 10 are dropped
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := svc.Record(context.Background(), mac, Event{Stage: StageRoot, Detail: "root mounted"})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := details(t, svc, mac)
	if len(got) != 1+soonPerNode+1 || got[len(got)-1] != "root root mounted" {
		t.Errorf("timeline has %d events ending %q, want %d ending with the root event", len(got), got[len(got)-1], soonPerNode+2)
	}
	if d := svc.DroppedEvents(); d != 10 {
		t.Errorf("DroppedEvents = %d, want 10", d)
	}
}

// TestRecordBatchFallback checks that when a batch transaction fails, its
// events are written one by one, so one bad event does not lose the rest.
func TestRecordBatchFallback(t *testing.T) {
	t.Parallel()
	svc, g := newGatedService(t, true)
	g.failBatch = true
	mac := enrolled(t, svc, "52:54:00:00:00:03")
	svc.RecordFetch(mac, StageScript, node, httpFetch("boot.ipxe", 1, 0))
	svc.RecordFetch(mac, StageKernel, node, httpFetch("kernel", 1, 0))
	svc.RecordFetch(mac, StageInitrd, node, httpFetch("initrd/0", 1, 0))
	close(g.gate)
	if err := svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := details(t, svc, mac); len(got) != 3 {
		t.Errorf("timeline = %q, want the 3 events", got)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.batches) == 0 {
		t.Errorf("no batch was tried")
	}
}

// TestFlushIdle checks that Flush returns at once when nothing was ever
// recorded, also with a context that has already ended.
func TestFlushIdle(t *testing.T) {
	t.Parallel()
	svc, _ := newGatedService(t, false)
	if err := svc.Flush(t.Context()); err != nil {
		t.Errorf("Flush of nothing = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := svc.Flush(ctx); err != nil {
		t.Errorf("Flush of nothing with an ended context = %v, want nil", err)
	}
	time.Sleep(10 * time.Millisecond) // the context's AfterFunc has run
}

// TestFlushDeadline checks that Flush gives up when its context ends while
// the writer is stuck, and that bad stages are refused by both calls.
func TestFlushDeadline(t *testing.T) {
	t.Parallel()
	svc, g := newGatedService(t, false)
	mac := enrolled(t, svc, "52:54:00:00:00:04")
	svc.RecordFetch(mac, StageScript, node, httpFetch("boot.ipxe", 1, 0))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	if err := svc.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with the writer stuck = %v, want the deadline", err)
	}
	svc.RecordFetch(mac, "bogus", node, httpFetch("boot.ipxe", 1, 0))
	if _, err := svc.Record(t.Context(), mac, Event{Stage: "bogus"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Record of a bogus stage = %v, want ErrInvalid", err)
	}
	close(g.gate)
	if err := svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := details(t, svc, mac); len(got) != 1 {
		t.Errorf("timeline = %q, want only the script event", got)
	}
}
