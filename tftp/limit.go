package tftp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"strconv"
	"sync"
)

// Unknown is what the server does with a read request from an address
// that [Config].Known does not vouch for: one that did no DHCP exchange
// with bootd lately, or whose source address is forged. A forged source
// turns a TFTP server into a reflector: RFC 1350 sends the first DATA
// block (512 bytes) in answer to a request of a dozen bytes, and resends
// it on every timeout.
type Unknown string

// The policies for unknown addresses.
const (
	// Allow serves every address alike.
	Allow Unknown = "allow"
	// Limit serves an unknown address only when the first answer is an
	// option acknowledgement (RFC 2347): OACK is no larger than the options
	// the request carried, and no file byte leaves before the client has
	// acknowledged it from its address. A request without options, whose
	// first answer would be a 512-byte block, gets a short ERROR.
	Limit Unknown = "limit"
	// Refuse answers an unknown address with a short ERROR and nothing else.
	Refuse Unknown = "refuse"
)

// ParseUnknown checks a policy's name.
func ParseUnknown(s string) (Unknown, error) {
	switch u := Unknown(s); u {
	case Allow, Limit, Refuse:
		return u, nil
	}
	return "", fmt.Errorf("tftp: unknown-address policy %q: want allow, limit or refuse", s)
}

// Why a request was refused: the label of bootd_tftp_refused_total.
const (
	refusedBusy       = "busy"        // MaxTransfers under way
	refusedClientBusy = "client_busy" // MaxPerClient under way for this address
	refusedUnknown    = "unknown"     // Unknown policy refuse
	refusedNoOptions  = "no_options"  // Unknown policy limit, request without options
)

// Errors sent to refused clients. They are short on purpose: the ERROR
// packet (4 bytes, the message, a NUL) stays within three times the
// smallest read request (4 bytes), so a refusal reflects little.
var (
	errBusy    = errors.New("busy")
	errRefused = errors.New("denied")
)

// Defaults of Config's caps.
const (
	DefaultMaxTransfers = 512
	DefaultMaxPerClient = 8
)

// limiter counts the transfers under way, in all and per client address.
type limiter struct {
	max, perClient int

	mu       sync.Mutex
	total    int
	byClient map[netip.Addr]int
}

func newLimiter(max, perClient int) *limiter {
	if max <= 0 {
		max = DefaultMaxTransfers
	}
	if perClient <= 0 {
		perClient = DefaultMaxPerClient
	}
	return &limiter{max: max, perClient: perClient, byClient: map[netip.Addr]int{}}
}

// acquire takes a place for a transfer to addr, or returns the reason
// there is none; release gives it back.
func (l *limiter) acquire(addr netip.Addr) (reason string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.max:
		return refusedBusy, false
	case l.byClient[addr] >= l.perClient:
		return refusedClientBusy, false
	}
	l.total++
	l.byClient[addr]++
	return "", true
}

func (l *limiter) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byClient[addr]--; l.byClient[addr] <= 0 {
		delete(l.byClient, addr)
	}
}

// oackFirst reports whether pin/tftp will answer rf's request with an
// option acknowledgement before any DATA, once SetSize(size) has been
// called: a valid blksize (RFC 2348: 8 to 65464, pin accepts 512 and up)
// or a tsize with a non-zero size (RFC 2349). pin/tftp v3.2.0 does not
// export the options it parsed, so they are read through reflection;
// TestOACKFirst fails if the library changes them.
func oackFirst(rf io.ReaderFrom, size int64) bool {
	v := reflect.ValueOf(rf)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return false
	}
	opts := v.Elem().FieldByName("opts")
	if !opts.IsValid() || opts.Kind() != reflect.Map || opts.Type().Key().Kind() != reflect.String {
		return false
	}
	if b := opts.MapIndex(reflect.ValueOf("blksize")); b.IsValid() && b.Kind() == reflect.String {
		if n, err := strconv.Atoi(b.String()); err == nil && n >= 512 && n <= 65464 {
			return true
		}
	}
	return opts.MapIndex(reflect.ValueOf("tsize")).IsValid() && size > 0
}

// refuse counts and logs a refused request and returns the error pin/tftp
// sends the client in one ERROR packet, never resent (RFC 1350 section 7).
func (s *Server) refuse(req Request, reason string, err error) error {
	s.m.refused.WithLabelValues(reason).Inc()
	s.log.Debug("tftp request refused", "ip", req.Remote.Addr().String(), "file", req.Name, "reason", reason)
	return err
}

// lazyReader reads src through a pooled read-ahead buffer taken at the
// first Read.
type lazyReader struct {
	src io.Reader
	br  *bufio.Reader
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.br == nil {
		l.br = bufPool.Get().(*bufio.Reader)
		l.br.Reset(l.src)
	}
	return l.br.Read(p)
}

func (l *lazyReader) free() {
	if l.br != nil {
		l.br.Reset(nil)
		bufPool.Put(l.br)
		l.br = nil
	}
}
