package tftp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"
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
	refusedDuplicate  = "duplicate"   // the same client and port asked again
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
	// DefaultQueueWait is how long a known client's request waits for a
	// place when MaxTransfers are under way. Firmware takes an ERROR as the
	// end of its boot (a PXE ROM prints PXE-E36 and moves on), so a storm
	// larger than the cap must queue, not be refused: a boot binary's
	// transfer lasts about a second even in a storm, and places come back
	// quickly; 10 s stays within the patience of firmware, which resends
	// its request for about 15 s (iPXE doubles its timeout up to 10 s).
	DefaultQueueWait = 10 * time.Second
)

// limiter counts the transfers under way, in all and per client address,
// queues known clients' requests beyond the cap in all, and holds back
// requests a client sent again.
type limiter struct {
	max, perClient int
	wait           time.Duration

	mu       sync.Mutex
	total    int
	byClient map[netip.Addr]int
	// queue holds the requests waiting for a place, oldest first, at most
	// max × queuedPerPlace; release hands a place to the oldest.
	queue []*waiter
	// pending holds the requests waiting or under way by client address,
	// port and file name; its channel is closed when that request ends.
	pending map[requestKey]chan struct{}
	// held counts the resent requests held back, at most max × resendsHeld.
	held int
}

// requestKey names a read request: a client resending it sends the same
// name from the same address and port.
type requestKey struct {
	from netip.AddrPort
	name string
}

type waiter struct {
	granted chan struct{} // closed when release hands it a place
	done    bool          // granted, or gone from the queue
}

func newLimiter(max, perClient int, wait time.Duration) *limiter {
	if max <= 0 {
		max = DefaultMaxTransfers
	}
	if perClient <= 0 {
		perClient = DefaultMaxPerClient
	}
	if wait == 0 {
		wait = DefaultQueueWait
	}
	return &limiter{max: max, perClient: perClient, wait: wait,
		byClient: map[netip.Addr]int{}, pending: map[requestKey]chan struct{}{}}
}

// duplicateHold bounds how long a resent request is held back, and
// resendsHeld how many are held for each place: a firmware resends its
// request about 6 times while it waits out a queue (iPXE doubles its
// timeout from a quarter of a second).
const (
	duplicateHold = time.Minute
	resendsHeld   = 8
	// queuedPerPlace is how many requests may wait for each place.
	queuedPerPlace = 4
)

// acquire takes a place for the transfer of name to from, or returns the
// reason there is none; release(from, name) gives it back. ctx ends a wait.
//
// A request with the address, port and name of one waiting or under way
// is the client sending it again (RFC 1350 section 2: firmware resends a
// request that got no answer, and one waiting in the queue gets none). It
// is held until the first ends and then refused, so its ERROR comes from a
// transfer ID the client no longer listens to, which it ignores; refused
// at once, the ERROR could reach the client before the first request's
// answer and end its boot. Held requests count neither in the caps nor in
// the queue; at most max × resendsHeld are held, beyond that one is
// refused at once.
//
// With queue set (a known client), a request beyond the cap in all waits
// up to the limiter's wait for a place, first come first served; at most
// max × queuedPerPlace requests wait (a storm of several times the cap
// gets in line, where an ERROR would end each firmware's boot). The cap
// per client counts requests waiting as well as under way, and is never
// waited for. So pin's sockets (one per request) stay within
// max × (1 + queuedPerPlace + resendsHeld): under way, waiting, held.
func (l *limiter) acquire(ctx context.Context, from netip.AddrPort, name string, queue bool) (reason string, ok bool) {
	key := requestKey{from, name}
	l.mu.Lock()
	if first, dup := l.pending[key]; dup && from.IsValid() {
		if l.held >= l.max*resendsHeld {
			l.mu.Unlock()
			return refusedDuplicate, false
		}
		l.held++
		l.mu.Unlock()
		t := time.NewTimer(duplicateHold)
		select {
		case <-first:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		l.mu.Lock()
		l.held--
		l.mu.Unlock()
		return refusedDuplicate, false
	}
	addr := from.Addr()
	if l.byClient[addr] >= l.perClient {
		l.mu.Unlock()
		return refusedClientBusy, false
	}
	if l.total < l.max && len(l.queue) == 0 {
		l.take(key)
		l.mu.Unlock()
		return "", true
	}
	if !queue || l.wait < 0 || len(l.queue) >= l.max*queuedPerPlace {
		l.mu.Unlock()
		return refusedBusy, false
	}
	w := &waiter{granted: make(chan struct{})}
	l.queue = append(l.queue, w)
	l.take(key) // waiting counts for its client, and is found by its resends
	l.total--   // but holds no place until granted
	l.mu.Unlock()

	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case <-w.granted:
		return "", true
	case <-t.C:
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.done { // granted as it timed out: the place is its
		return "", true
	}
	w.done = true
	if i := slices.Index(l.queue, w); i >= 0 {
		l.queue = slices.Delete(l.queue, i, i+1)
	}
	l.end(key)
	return refusedBusy, false
}

// waiting reports the requests in the queue and the resends held.
func (l *limiter) waiting() (queued, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue), l.held
}

// take counts a transfer of key's under way.
func (l *limiter) take(key requestKey) {
	l.total++
	l.byClient[key.from.Addr()]++
	if key.from.IsValid() {
		l.pending[key] = make(chan struct{})
	}
}

// release ends the transfer acquire let through for from and name: its
// place goes to the oldest waiter, if any.
func (l *limiter) release(from netip.AddrPort, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.end(requestKey{from, name})
	l.total--
	if len(l.queue) > 0 {
		w := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		w.done = true
		l.total++
		close(w.granted)
	}
}

// end forgets key's request: its resends go, its client's count drops.
func (l *limiter) end(key requestKey) {
	if done, ok := l.pending[key]; ok {
		close(done)
		delete(l.pending, key)
	}
	if l.byClient[key.from.Addr()]--; l.byClient[key.from.Addr()] <= 0 {
		delete(l.byClient, key.from.Addr())
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
