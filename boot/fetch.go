package boot

import (
	"fmt"
	"time"
)

// A Transport is the protocol a node fetched a file with.
type Transport string

// The transports of the delivery servers.
const (
	HTTP Transport = "http"
	TFTP Transport = "tftp"
)

// An Outcome is how a fetch ended.
type Outcome string

// The outcomes of a fetch.
const (
	FetchDone     Outcome = "done"      // the whole file was sent
	FetchRange    Outcome = "range"     // a byte range of the file was sent (HTTP 206)
	FetchAborted  Outcome = "aborted"   // the client hung up before the end (over TFTP, a probe)
	FetchNotFound Outcome = "not found" // no such file for the node
	FetchRefused  Outcome = "refused"   // the name was refused as malformed
	FetchFailed   Outcome = "failed"    // the transfer failed; Err says why
)

// A Fetch is a file transfer a delivery server finished for a node: the
// data of a fetch event (Event.Fetch), rendered to text only for people
// (String).
type Fetch struct {
	Transport Transport     `json:"transport"`
	File      string        `json:"file"`
	Outcome   Outcome       `json:"outcome"`
	Bytes     int64         `json:"bytes"`              // bytes sent
	Size      int64         `json:"size,omitempty"`     // the file's size, when known
	Duration  time.Duration `json:"duration,omitempty"` // from the request to the end, in nanoseconds
	Err       string        `json:"err,omitempty"`      // why a failed fetch failed
	// Repeats counts the later fetches like this one that the recorder
	// folded into this event (see Service.RecordFetch).
	Repeats int `json:"repeats,omitempty"`
}

// String renders f for a timeline, as in "http boot.ipxe: 436 bytes in 31µs".
func (f Fetch) String() string {
	s := f.describe()
	if f.Repeats > 0 {
		s += fmt.Sprintf(" (and %d more like it)", f.Repeats)
	}
	return s
}

func (f Fetch) describe() string {
	took := shortDuration(f.Duration)
	switch f.Outcome {
	case FetchDone:
		return fmt.Sprintf("%s %s: %d bytes in %s", f.Transport, f.File, f.Bytes, took)
	case FetchRange:
		return fmt.Sprintf("%s %s: range of %d bytes in %s", f.Transport, f.File, f.Bytes, took)
	case FetchAborted:
		if f.Transport == TFTP {
			return fmt.Sprintf("tftp %s: ended by the client after %d of %d bytes (a probe)", f.File, f.Bytes, f.Size)
		}
		return fmt.Sprintf("%s %s: aborted after %d of %d bytes", f.Transport, f.File, f.Bytes, f.Size)
	case FetchNotFound:
		return fmt.Sprintf("%s %s: not found", f.Transport, f.File)
	case FetchRefused:
		return fmt.Sprintf("%s %q: name refused", f.Transport, f.File)
	}
	s := fmt.Sprintf("%s %s: failed after %d of %d bytes", f.Transport, f.File, f.Bytes, f.Size)
	if f.Err != "" {
		s += ": " + f.Err
	}
	return s
}

// repeatedBy reports whether g repeats f, to be folded into f's event by
// the recorder: the same fetch but for its duration.
func (f *Fetch) repeatedBy(g *Fetch) bool {
	if f == nil || g == nil {
		return false
	}
	a, b := *f, *g
	a.Duration, a.Repeats, b.Duration, b.Repeats = 0, 0, 0, 0
	return a == b
}

// shortDuration rounds d for people: to the microsecond below a
// millisecond, to 0.1 ms below a second, to 10 ms above.
func shortDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
