package web

import (
	"net/http"
	"time"

	"github.com/bootd/bootd/boot/access"
	"github.com/go-chi/chi/v5"
)

// A DiscoverWindow is the DHCP server's discover window (*dhcp.Window):
// while it is open, dhcp_clients known answers MACs nobody enrolled.
type DiscoverWindow interface {
	// Open opens the window until t; Close closes it.
	Open(t time.Time)
	Close()
	// Until returns when the window closes, zero when it is closed at now.
	Until(now time.Time) time.Time
}

// Bounds of a window's length: the default, and the longest one asked.
const (
	discoverDefault = 10 * time.Minute
	discoverMax     = 24 * time.Hour
)

// discoverBody is the window's state.
type discoverBody struct {
	Open  bool      `json:"open"`
	Until time.Time `json:"until,omitzero"`
}

// routesDiscover adds GET, POST and DELETE /discover.
func (s *server) routesDiscover(r chi.Router) {
	if s.window == nil {
		return
	}
	s.act(r, http.MethodGet, "/discover", access.ActionView, s.discoverState)
	s.act(r, http.MethodPost, "/discover", access.ActionDiscover, s.discoverOpen)
	s.act(r, http.MethodDelete, "/discover", access.ActionDiscover, s.discoverClose)
}

func (s *server) discoverState(w http.ResponseWriter, r *http.Request) error {
	u := s.window.Until(time.Now())
	s.writeJSON(w, r, http.StatusOK, discoverBody{Open: !u.IsZero(), Until: u})
	return nil
}

// discoverOpen opens the window for the body's "for" (a Go duration, at
// most a day; default 10 minutes).
func (s *server) discoverOpen(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		For string `json:"for"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &body); err != nil {
			return err
		}
	}
	d := discoverDefault
	if body.For != "" {
		var err error
		if d, err = time.ParseDuration(body.For); err != nil || d <= 0 || d > discoverMax {
			return badRequest("for: want a duration from 1s to 24h, e.g. 10m")
		}
	}
	auditTarget(r, "for "+d.String())
	s.window.Open(time.Now().Add(d))
	return s.discoverState(w, r)
}

func (s *server) discoverClose(w http.ResponseWriter, r *http.Request) error {
	s.window.Close()
	return s.discoverState(w, r)
}
