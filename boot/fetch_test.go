package boot

import (
	"net/netip"
	"testing"
	"time"
)

func TestFetchString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f    Fetch
		want string
	}{
		{Fetch{Transport: HTTP, File: "boot.ipxe", Outcome: FetchDone, Bytes: 436, Size: 436, Duration: 31234 * time.Nanosecond}, "http boot.ipxe: 436 bytes in 31µs"},
		{Fetch{Transport: HTTP, File: "initrd", Outcome: FetchRange, Bytes: 20, Duration: 1234567 * time.Nanosecond}, "http initrd: range of 20 bytes in 1.2ms"},
		{Fetch{Transport: HTTP, File: "kernel", Outcome: FetchAborted, Bytes: 10, Size: 99}, "http kernel: aborted after 10 of 99 bytes"},
		{Fetch{Transport: TFTP, File: "a/kernel", Outcome: FetchDone, Bytes: 5000, Duration: 1234 * time.Millisecond}, "tftp a/kernel: 5000 bytes in 1.23s"},
		{Fetch{Transport: TFTP, File: "a/start4.elf", Outcome: FetchAborted, Bytes: 1024, Size: 2500}, "tftp a/start4.elf: ended by the client after 1024 of 2500 bytes (a probe)"},
		{Fetch{Transport: TFTP, File: "a/start.elf", Outcome: FetchNotFound}, "tftp a/start.elf: not found"},
		{Fetch{Transport: TFTP, File: "../x", Outcome: FetchRefused}, `tftp "../x": name refused`},
		{Fetch{Transport: TFTP, File: "a/kernel", Outcome: FetchFailed, Bytes: 512, Size: 5000, Err: "timeout"}, "tftp a/kernel: failed after 512 of 5000 bytes: timeout"},
		{Fetch{Transport: HTTP, File: "kernel", Outcome: FetchDone, Bytes: 9, Repeats: 3}, "http kernel: 9 bytes in 0s (and 3 more like it)"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.f, got, tt.want)
		}
	}
	if got := (Event{Detail: "up"}).Text(); got != "up" {
		t.Errorf("Text of an event without a fetch = %q, want its Detail", got)
	}
}

// TestRecordFetchFolds checks that the recorder folds a repeated fetch by
// its typed fields: the same stage, source, transport, file and outcome
// fold whatever their durations, counted in Fetch.Repeats; a change of any
// of them starts a new event.
func TestRecordFetchFolds(t *testing.T) {
	t.Parallel()
	svc, g := newGatedService(t, true)
	mac := enrolled(t, svc, "52:54:00:00:00:05")
	other := netip.MustParseAddr("198.18.0.10")
	svc.RecordFetch(mac, StageKernel, node, httpFetch("kernel", 9, 0))
	taken(t, svc) // the writer holds the first event at the gate
	for i := range 3 {
		svc.RecordFetch(mac, StageKernel, node, httpFetch("kernel", 9, time.Duration(i+1)*time.Millisecond))
	}
	svc.RecordFetch(mac, StageKernel, other, httpFetch("kernel", 9, 0))
	aborted := httpFetch("kernel", 4, 0)
	aborted.Outcome = FetchAborted
	svc.RecordFetch(mac, StageKernel, other, aborted)
	overTFTP := httpFetch("kernel", 9, 0)
	overTFTP.Transport = TFTP
	svc.RecordFetch(mac, StageKernel, other, overTFTP)
	svc.RecordFetch(mac, StageKernel, other, overTFTP)
	svc.RecordFetch(mac, StageKernel, other, httpFetch("initrd", 9, 0))
	close(g.gate)
	if err := svc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	boots, err := svc.Timeline(t.Context(), mac)
	if err != nil || len(boots) != 1 {
		t.Fatalf("Timeline = %v, %v; want one boot", boots, err)
	}
	want := []struct {
		source    netip.Addr
		transport Transport
		file      string
		outcome   Outcome
		repeats   int
		took      time.Duration
	}{
		{node, HTTP, "kernel", FetchDone, 0, 0},
		{node, HTTP, "kernel", FetchDone, 2, time.Millisecond},
		{other, HTTP, "kernel", FetchDone, 0, 0},
		{other, HTTP, "kernel", FetchAborted, 0, 0},
		{other, TFTP, "kernel", FetchDone, 1, 0},
		{other, HTTP, "initrd", FetchDone, 0, 0},
	}
	evs := boots[0].Events
	if len(evs) != len(want) {
		t.Fatalf("timeline has %d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		ev := evs[i]
		f := ev.Fetch
		if f == nil || ev.Source != w.source.String() || f.Transport != w.transport || f.File != w.file ||
			f.Outcome != w.outcome || f.Repeats != w.repeats || f.Duration != w.took {
			t.Errorf("event %d = %+v with fetch %+v, want %+v", i, ev, f, w)
		}
		if ev.Detail != "" {
			t.Errorf("event %d has Detail %q, want none (the fetch is data)", i, ev.Detail)
		}
	}
}
