package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	name string
	data string
}

// openStream opens an event stream over real HTTP with b's session, and
// returns a channel of its events, closed when the stream ends.
func openStream(t *testing.T, ctx context.Context, srv *httptest.Server, b *browser, path string) (<-chan sseEvent, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.AddCookie(b.cookies[sessionCookie])
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan sseEvent, 16)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			case strings.HasPrefix(line, "retry: "):
				ch <- sseEvent{name: "retry", data: strings.TrimPrefix(line, "retry: ")}
			}
		}
	}()
	return ch, resp
}

// next returns the stream's next event, failing the test after a while.
func next(t *testing.T, ch <-chan sseEvent) (sseEvent, bool) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		return ev, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
		return sseEvent{}, false
	}
}

// nextChange returns the next "change" event, decoded.
func nextChange(t *testing.T, ch <-chan sseEvent) liveChange {
	t.Helper()
	for {
		ev, ok := next(t, ch)
		if !ok {
			t.Fatal("stream ended, want a change")
		}
		if ev.name != "change" {
			continue
		}
		var c liveChange
		if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
			t.Fatalf("change data %q: %v", ev.data, err)
		}
		return c
	}
}

// waitWatching waits until the Service has n subscriptions.
func waitWatching(t *testing.T, svc *boot.Service, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); svc.Watching() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Watching() = %d, want %d", svc.Watching(), n)
		}
	}
}

func TestDashboardLiveMachine(t *testing.T) {
	t.Parallel()
	f := newDashFixture(t, false, nil)
	f.enroll(t, "52:54:00:12:34:56", "alpine")
	f.enroll(t, "52:54:00:00:00:01", "alpine")
	mac, other := mustMAC(t, "52:54:00:12:34:56"), mustMAC(t, "52:54:00:00:00:01")
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	b := login(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	ch, resp := openStream(t, ctx, srv, b, "/machines/525400123456/events")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET events = %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	if ev, _ := next(t, ch); ev.name != "retry" || ev.data != "3000" {
		t.Fatalf("first = %+v, want retry: 3000", ev)
	}
	// Another machine's event is not sent on this stream.
	if _, err := f.svc.Record(ctx, other, boot.Event{Stage: boot.StageDHCP}); err != nil {
		t.Fatal(err)
	}
	for _, st := range []boot.Stage{boot.StageDHCP, boot.StageKernel} {
		if _, err := f.svc.Record(ctx, mac, boot.Event{Stage: st, Source: "198.18.0.5"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Record(ctx, mac, boot.Event{Stage: boot.StageFailed, Detail: "rbd: map failed <-5>"}); err != nil {
		t.Fatal(err)
	}
	var c liveChange
	for !strings.Contains(c.Stage, "failed") { // the events may come in one change or several
		c = nextChange(t, ch)
		if c.MAC != mac.String() || len(c.Boots) != 1 || c.Boots[0].Seq != 1 {
			t.Fatalf("change = %+v, want one for %s with boot 1", c, mac)
		}
	}
	html := c.Boots[0].HTML
	for _, want := range []string{`id="boot-1"`, "DHCP", "kernel", "198.18.0.5", "rbd: map failed &lt;-5&gt;", "failed after"} {
		if !strings.Contains(html, want) {
			t.Errorf("boot section lacks %q:\n%s", want, html)
		}
	}
	if !strings.Contains(c.State, "st-failed") || !strings.Contains(c.State, "failed") {
		t.Errorf("state fragment = %q, want the failed badge", c.State)
	}
	cancel()
	waitWatching(t, f.svc, 0)
}

func TestDashboardLiveAll(t *testing.T) {
	t.Parallel()
	f := newDashFixture(t, false, nil)
	for _, m := range []string{"52:54:00:00:00:01", "52:54:00:00:00:02"} {
		f.enroll(t, m, "alpine")
	}
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	b := login(t, f)
	ch, _ := openStream(t, t.Context(), srv, b, "/events")
	next(t, ch) // retry
	seen := map[string]bool{}
	for _, m := range []string{"52:54:00:00:00:02", "52:54:00:00:00:01"} {
		if _, err := f.svc.Record(t.Context(), mustMAC(t, m), boot.Event{Stage: boot.StageRoot}); err != nil {
			t.Fatal(err)
		}
	}
	for len(seen) < 2 {
		c := nextChange(t, ch)
		seen[c.MAC] = true
		if !strings.Contains(c.State, "● up") || !strings.Contains(c.Stage, "root mounted") || c.Boots != nil {
			t.Errorf("change = %+v, want up, root mounted, no timeline", c)
		}
	}
}

// TestDashboardLiveEnds checks that streams end when the server closes and
// leave no subscription behind, and that a stream for an unknown machine
// is refused.
func TestDashboardLiveEnds(t *testing.T) {
	t.Parallel()
	closing := make(chan struct{})
	f := newDashFixture(t, false, closing)
	f.enroll(t, "52:54:00:12:34:56", "alpine")
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	b := login(t, f)
	var streams []<-chan sseEvent
	for _, path := range []string{"/events", "/machines/52:54:00:12:34:56/events", "/events"} {
		ch, _ := openStream(t, t.Context(), srv, b, path)
		next(t, ch)
		streams = append(streams, ch)
	}
	waitWatching(t, f.svc, 3)
	close(closing)
	for _, ch := range streams {
		for {
			if _, ok := next(t, ch); !ok {
				break
			}
		}
	}
	waitWatching(t, f.svc, 0)

	_, resp := openStream(t, t.Context(), srv, b, "/machines/52:54:00:00:00:99/events")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("events of an unknown machine = %d, want 404", resp.StatusCode)
	}
}
