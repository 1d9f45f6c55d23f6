package store

import (
	"context"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	bolt "go.etcd.io/bbolt"
)

func seqs(bs []boot.Boot) []int {
	var out []int
	for _, b := range bs {
		out = append(out, b.Seq)
	}
	return out
}

// TestAppendEventsBatch checks that a batch of events of several nodes is
// stored in one transaction as single appends would store it, boot numbers
// included, and that a bad event fails the whole batch, storing nothing.
func TestAppendEventsBatch(t *testing.T) {
	t.Parallel()
	db, _ := openTemp(t)
	ctx := context.Background()
	svc := newService(t, db)
	macs := []boot.MAC{macN(1), macN(2)}
	for _, mac := range macs {
		if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "debian"}); err != nil {
			t.Fatal(err)
		}
	}
	p := boot.DefaultTimelinePolicy()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []boot.MACEvent
	for i, st := range []boot.Stage{boot.StageDHCP, boot.StageScript, boot.StageKernel, boot.StageDHCP} {
		for _, mac := range macs {
			evs = append(evs, boot.MACEvent{MAC: mac, Event: boot.Event{Stage: st, Time: t0.Add(time.Duration(i) * time.Second)}})
		}
	}
	stored, err := db.AppendEvents(ctx, evs, p)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range stored {
		want := 1
		if i >= 6 {
			want = 2 // a DHCP exchange after the kernel starts a new boot
		}
		if ev.Boot != want || ev.Stage != evs[i].Event.Stage {
			t.Errorf("stored[%d] = %+v, want stage %s of boot %d", i, ev, evs[i].Event.Stage, want)
		}
	}
	for _, mac := range macs {
		boots, err := db.Timeline(ctx, mac)
		if err != nil || len(boots) != 2 || len(boots[0].Events) != 3 || len(boots[1].Events) != 1 {
			t.Errorf("timeline of %s = %+v, %v; want boots of 3 and 1 events", mac, boots, err)
		}
	}

	// An event that cannot be stored (its node's newest event is unreadable)
	// fails the batch: the good event before it is not stored either.
	bad := macN(3)
	if err := db.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketTimeline).CreateBucketIfNotExists(nodeKey(bad))
		if err != nil {
			return err
		}
		return b.Put(eventKey(1, 0), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	_, err = db.AppendEvents(ctx, []boot.MACEvent{
		{MAC: macs[0], Event: boot.Event{Stage: boot.StageRoot, Time: t0.Add(time.Minute)}},
		{MAC: bad, Event: boot.Event{Stage: boot.StageRoot, Time: t0.Add(time.Minute)}},
	}, p)
	if err == nil {
		t.Fatal("a batch with an unreadable timeline was stored")
	}
	if boots, _ := db.Timeline(ctx, macs[0]); len(boots[1].Events) != 1 {
		t.Errorf("the failed batch left an event: %+v", boots[1].Events)
	}
}

// TestTimelineKeepsFetch checks that a fetch event round-trips through the
// store with its Fetch, and that an event stored before fetches were typed
// (its text in Detail) still reads and renders as it was.
func TestTimelineKeepsFetch(t *testing.T) {
	t.Parallel()
	db, _ := openTemp(t)
	ctx := context.Background()
	mac := macN(7)
	if _, err := newService(t, db).Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "debian"}); err != nil {
		t.Fatal(err)
	}
	p := boot.DefaultTimelinePolicy()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	kernel := boot.Fetch{Transport: boot.HTTP, File: "kernel", Outcome: boot.FetchDone, Bytes: 9, Size: 9,
		Duration: 1234 * time.Microsecond, Repeats: 2}
	probe := boot.Fetch{Transport: boot.TFTP, File: "a/start4.elf", Outcome: boot.FetchAborted, Bytes: 1024, Size: 2500}
	old := "http initrd: 7 bytes in 1ms (and 1 more like it)"
	if _, err := db.AppendEvent(ctx, mac, boot.Event{Stage: boot.StageDHCP, Time: t0}, p); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendEvents(ctx, []boot.MACEvent{
		{MAC: mac, Event: boot.Event{Stage: boot.StageTFTP, Time: t0.Add(time.Second), Source: "198.18.0.10", Fetch: &probe}},
		{MAC: mac, Event: boot.Event{Stage: boot.StageKernel, Time: t0.Add(2 * time.Second), Source: "198.18.0.10", Fetch: &kernel}},
		{MAC: mac, Event: boot.Event{Stage: boot.StageInitrd, Time: t0.Add(3 * time.Second), Source: "198.18.0.10", Detail: old}},
	}, p); err != nil {
		t.Fatal(err)
	}
	boots, err := db.Timeline(ctx, mac)
	if err != nil || len(boots) != 1 || len(boots[0].Events) != 4 {
		t.Fatalf("Timeline = %+v, %v; want one boot of 4 events", boots, err)
	}
	evs := boots[0].Events
	if f := evs[1].Fetch; f == nil || *f != probe {
		t.Errorf("stored probe = %+v, want %+v", f, probe)
	}
	if f := evs[2].Fetch; f == nil || *f != kernel {
		t.Errorf("stored kernel fetch = %+v, want %+v", f, kernel)
	}
	if got, want := evs[2].Text(), "http kernel: 9 bytes in 1.2ms (and 2 more like it)"; got != want {
		t.Errorf("stored kernel fetch reads %q, want %q", got, want)
	}
	if evs[3].Fetch != nil || evs[3].Text() != old {
		t.Errorf("old-style event = %+v reading %q, want no fetch and its detail %q", evs[3], evs[3].Text(), old)
	}
}
