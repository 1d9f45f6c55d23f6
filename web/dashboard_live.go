package web

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
)

// Live updates: server-sent events (the WHATWG HTML standard, section
// 9.2), one stream per open page. The stream subscribes to the Service's
// recorded events (boot.Service.Watch), gathers them for a moment, and
// sends one "change" event per machine that changed, carrying the HTML
// fragments the page swaps in: the machine's state badge and last stage,
// and on a machine's page the timeline sections of the boots that changed.
// Fragments come from the same templates as the pages.
//
// A stream that falls behind is dropped by the Service; it then sends
// "resync" and ends, and the page tells the operator that it missed
// updates (the browser reconnects by itself after the retry delay).

const (
	// coalesce is how long a stream gathers events before sending.
	coalesce = 100 * time.Millisecond
	// writeTimeout bounds each write to a stream, so a client that stops
	// reading cannot hold its handler forever.
	writeTimeout = 10 * time.Second
)

// liveChange is the data of one "change" event.
type liveChange struct {
	MAC   string `json:"mac"`
	State string `json:"state"` // the state badge
	Stage string `json:"stage"` // the last stage and when
	// Boots are the changed boots' timeline sections, newest first (machine page only).
	Boots []liveBoot `json:"boots,omitempty"`
}

type liveBoot struct {
	Seq  int    `json:"seq"`
	HTML string `json:"html"`
}

// allEvents answers GET /events: changes of every machine, for the machines page.
func (d *dashboard) allEvents(w http.ResponseWriter, r *http.Request) {
	d.stream(w, r, nil)
}

// machineEvents answers GET /machines/{mac}/events: one machine's changes,
// with its timeline, for its page.
func (d *dashboard) machineEvents(w http.ResponseWriter, r *http.Request) {
	mac, err := pathMAC(r)
	if err == nil {
		_, err = d.nodes.Node(r.Context(), mac)
	}
	if err != nil {
		d.fail(w, r, err)
		return
	}
	d.stream(w, r, mac)
}

// stream serves one event stream until the client leaves, the server
// closes, the subscription is dropped or a write fails.
func (d *dashboard) stream(w http.ResponseWriter, r *http.Request, mac boot.MAC) {
	sub := d.events.Watch(mac)
	defer sub.Close()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tell a reverse proxy not to buffer
	w.WriteHeader(http.StatusOK)
	if !d.send(w, rc, "retry: 3000\n\n") {
		return
	}
	heartbeat := time.NewTicker(d.heartbeat)
	defer heartbeat.Stop()
	var flush <-chan time.Time // set while changes wait to be sent
	pending := map[string]*pendingChange{}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.closing:
			return
		case rec, ok := <-sub.Events():
			if !ok {
				d.send(w, rc, "event: resync\ndata: {}\n\n")
				return
			}
			p := pending[rec.MAC.String()]
			if p == nil {
				p = &pendingChange{mac: rec.MAC}
				pending[rec.MAC.String()] = p
			}
			if !slices.Contains(p.boots, rec.Event.Boot) {
				p.boots = append(p.boots, rec.Event.Boot)
			}
			if flush == nil {
				flush = time.After(coalesce)
			}
		case <-flush:
			flush = nil
			msg, err := d.changes(r.Context(), pending, mac != nil)
			clear(pending)
			if err != nil {
				d.log.Debug("live update failed", "err", err)
				return
			}
			if !d.send(w, rc, msg) {
				return
			}
		case <-heartbeat.C:
			if !d.send(w, rc, ": ping\n\n") {
				return
			}
		}
	}
}

// pendingChange is a machine with changes not yet sent, and its boots that changed.
type pendingChange struct {
	mac   boot.MAC
	boots []int
}

// changes renders the pending changes as "change" events, in MAC order.
func (d *dashboard) changes(ctx context.Context, pending map[string]*pendingChange, withBoots bool) (string, error) {
	var b strings.Builder
	for _, key := range slices.Sorted(maps.Keys(pending)) {
		p := pending[key]
		n, err := d.nodes.Node(ctx, p.mac)
		if err != nil {
			continue // forgotten meanwhile, or an event for a MAC never seen: nothing to show
		}
		c := liveChange{MAC: key}
		if c.State, err = d.fragment("state", n.State); err != nil {
			return "", err
		}
		if c.Stage, err = d.fragment("stage", n); err != nil {
			return "", err
		}
		if withBoots {
			if c.Boots, err = d.bootSections(ctx, p); err != nil {
				return "", err
			}
		}
		data, err := json.Marshal(c)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "event: change\ndata: %s\n\n", data)
	}
	return b.String(), nil
}

// bootSections renders the timeline sections of p's changed boots.
func (d *dashboard) bootSections(ctx context.Context, p *pendingChange) ([]liveBoot, error) {
	boots, err := d.nodes.Timeline(ctx, p.mac)
	if err != nil {
		return nil, err
	}
	var out []liveBoot
	for _, b := range slices.Backward(boots) {
		if !slices.Contains(p.boots, b.Seq) {
			continue
		}
		html, err := d.fragment("boot", newBootView(p.mac, b))
		if err != nil {
			return nil, err
		}
		out = append(out, liveBoot{Seq: b.Seq, HTML: html})
	}
	return out, nil
}

// send writes msg and flushes it, within writeTimeout; false means the
// stream is over.
func (d *dashboard) send(w http.ResponseWriter, rc *http.ResponseController, msg string) bool {
	if msg == "" {
		return true
	}
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // unsupported only by test recorders
	if _, err := w.Write([]byte(msg)); err != nil {
		return false
	}
	return rc.Flush() == nil
}
