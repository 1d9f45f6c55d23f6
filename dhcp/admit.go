package dhcp

import (
	"net"
	"sync/atomic"
	"time"
)

// Clients says which MACs the server answers.
type Clients string

// The admission modes.
const (
	// ClientsAll answers every MAC (what a client not enrolled gets is the
	// Decider's business), within the pool's limits for unknown clients.
	ClientsAll Clients = "all"
	// ClientsKnown answers only enrolled MACs (Answer.Known), MACs whose
	// prefix is in Config.AllowOUI, and any MAC while Config.Window is
	// open. Other MACs get no reply at all, in full and proxy mode.
	ClientsKnown Clients = "known"
)

// A Window is known mode's discover window: while it is open, the server
// answers MACs nobody enrolled, so that new machines can be discovered and
// enrolled. It is safe for concurrent use; the zero Window is closed.
type Window struct{ until atomic.Int64 } // Unix nanoseconds; 0 closed

// Open opens the window until t (a time in the past closes it).
func (w *Window) Open(t time.Time) { w.until.Store(t.UnixNano()) }

// Close closes the window.
func (w *Window) Close() { w.until.Store(0) }

// Until returns when the window closes, the zero time when it is closed at now.
func (w *Window) Until(now time.Time) time.Time {
	u := w.until.Load()
	if u == 0 || u <= now.UnixNano() {
		return time.Time{}
	}
	return time.Unix(0, u)
}

// IsOpen reports whether the window is open at now.
func (w *Window) IsOpen(now time.Time) bool { return w != nil && !w.Until(now).IsZero() }

// admitted reports whether the server answers c, whose Decider answered a.
func (s *Server) admitted(c Client, a Answer) bool {
	if s.cfg.Clients != ClientsKnown || a.Known {
		return true
	}
	if ouiAllowed(s.cfg.AllowOUI, c.MAC) {
		return true
	}
	return s.cfg.Window.IsOpen(s.cfg.Now())
}

func ouiAllowed(ouis [][3]byte, mac net.HardwareAddr) bool {
	if len(mac) < 3 {
		return false
	}
	for _, o := range ouis {
		if mac[0] == o[0] && mac[1] == o[1] && mac[2] == o[2] {
			return true
		}
	}
	return false
}
