package tftp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	pin "github.com/pin/tftp/v3"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/ipv4"
)

// A Request is one read request.
type Request struct {
	// Remote is the client's address and port.
	Remote netip.AddrPort
	// Local is the address the request was sent to; invalid when unknown.
	Local netip.Addr
	// Name is the file name as the client sent it, unchecked.
	Name string
}

// A File is what an Opener gives for a request.
type File struct {
	// Content is sent from its current position.
	Content io.ReadSeeker
	// Size is the number of bytes Content holds; a negative Size means
	// unknown: the server seeks Content to its end to learn it (for tsize).
	Size int64
	// Close, when not nil, is called once the transfer has ended.
	Close func()
	// Owner is the Opener's note of whom the request concerns (a machine,
	// say). The server does not read it; it passes it back in the
	// transfer's events. It may be set together with an error.
	Owner string
}

// An Opener finds the file a client asks for. It is called once per read
// request, concurrently, and must not block for long: the client is waiting.
type Opener interface {
	// Open returns the file for req, or an error wrapping fs.ErrNotExist
	// (the client gets "file not found") or fs.ErrPermission (a name the
	// Opener refuses; the client gets "access violation"). Any other error
	// is a failure: the client gets a generic message, never the error's
	// text, which may name server files.
	Open(ctx context.Context, req Request) (File, error)
}

// OpenerFunc adapts a function to an Opener.
type OpenerFunc func(ctx context.Context, req Request) (File, error)

// Open calls f.
func (f OpenerFunc) Open(ctx context.Context, req Request) (File, error) { return f(ctx, req) }

// Outcome is how a transfer went.
type Outcome string

// The outcomes reported in Events.
const (
	// Started: the file was found and sending begins.
	Started Outcome = "started"
	// Done: every byte was sent and acknowledged.
	Done Outcome = "done"
	// NotFound: the Opener had no such file, or refused the name.
	NotFound Outcome = "not_found"
	// Aborted: the client ended the transfer with an ERROR packet, as
	// firmware does after probing a file's existence or size.
	Aborted Outcome = "aborted"
	// Failed: the client stopped answering, or the file could not be read.
	Failed Outcome = "failed"
)

// An Event reports a transfer: one Started event, then one of the other
// outcomes (only the latter when the file was not opened).
type Event struct {
	Outcome Outcome
	Request Request
	// Owner is File.Owner as the Opener set it.
	Owner string
	// Size is the file's size in bytes; -1 when no file was opened.
	Size int64
	// Bytes is how many bytes were sent (in events after Started).
	Bytes int64
	// Duration is the time since the request arrived.
	Duration time.Duration
	// Err says why, for NotFound, Aborted and Failed.
	Err error
}

// Config configures a Server.
type Config struct {
	// Opener finds files; required.
	Opener Opener
	// Report, when not nil, receives every Event, from the transfer's
	// goroutine: it must be safe for concurrent use and return quickly.
	Report func(Event)
	// Logger receives one Debug record per transfer outcome, and Info for
	// failures; nil discards them.
	Logger *slog.Logger
	// Registry, when not nil, receives the server's metrics:
	// bootd_tftp_transfers_total{outcome}, bootd_tftp_sent_bytes_total and
	// bootd_tftp_transfers_active.
	Registry prometheus.Registerer
	// Timeout is how long to wait for an acknowledgement before sending a
	// packet again; zero means one second.
	Timeout time.Duration
	// Retries is how many times a packet is sent before giving up; zero
	// means five. A client that stops answering frees its transfer within
	// Timeout times Retries.
	Retries int
	// MaxTransfers caps the transfers under way; zero means
	// DefaultMaxTransfers. A request beyond it from a known address waits
	// for a place up to QueueWait; one that gets none, or comes from an
	// unknown address, gets an ERROR ("busy").
	MaxTransfers int
	// QueueWait is how long a known client's request waits for a place;
	// zero means DefaultQueueWait, negative not at all.
	QueueWait time.Duration
	// MaxPerClient caps the transfers under way per client address; zero
	// means DefaultMaxPerClient.
	MaxPerClient int
	// Known reports whether an address did a DHCP exchange with bootd
	// lately; nil vouches for none. It is called once per read request,
	// concurrently, and must return quickly.
	Known func(netip.Addr) bool
	// Unknown is the policy for addresses Known does not vouch for; empty
	// means Allow.
	Unknown Unknown
}

// Server is a TFTP server. Create it with New.
type Server struct {
	pin    *pin.Server
	opener Opener
	report func(Event)
	log    *slog.Logger
	m      *metrics
	limit  *limiter
	known  func(netip.Addr) bool
	policy Unknown
	ctx    context.Context
	cancel context.CancelFunc
}

// bufSize is the read-ahead between a file and the transfer: TFTP sends a
// block of at most a few KiB at a time, and reading each from the disk
// would cost a system call per packet. A transfer takes it at its first
// read (after the client acknowledged the OACK, when there is one), so a
// stalled request holds none.
const bufSize = 64 << 10

var bufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}

// New returns a Server for cfg, or an error when cfg has no Opener or the
// metrics cannot be registered.
func New(cfg Config) (*Server, error) {
	if cfg.Opener == nil {
		return nil, errors.New("tftp: Config needs an Opener")
	}
	limit := newLimiter(cfg.MaxTransfers, cfg.MaxPerClient, cfg.QueueWait)
	m, err := newMetrics(cfg.Registry, limit)
	if err != nil {
		return nil, err
	}
	policy := cfg.Unknown
	if policy == "" {
		policy = Allow
	}
	if _, err := ParseUnknown(string(policy)); err != nil {
		return nil, err
	}
	known := cfg.Known
	if known == nil {
		known = func(netip.Addr) bool { return false }
	}
	s := &Server{opener: cfg.Opener, report: cfg.Report, log: cfg.Logger, m: m,
		limit: limit, known: known, policy: policy}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.report == nil {
		s.report = func(Event) {}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.pin = pin.NewServer(s.read, nil)
	timeout, retries := cfg.Timeout, cfg.Retries
	if timeout <= 0 {
		timeout = time.Second
	}
	if retries <= 0 {
		retries = 5
	}
	s.pin.SetTimeout(timeout)
	s.pin.SetRetries(retries)
	// Resend as soon as the timeout expires: the library's default waits up
	// to another second at random, which suits the Internet, not a LAN.
	s.pin.SetBackoff(func(int) time.Duration { return 0 })
	return s, nil
}

// readBuffer is the receive buffer Listen asks for.
const readBuffer = 4 << 20

// Listen opens the UDP socket for Serve on addr (host:port, IPv4). It asks
// the kernel for each request's destination address and interface at once:
// a request that arrives before Serve runs would otherwise lack them, and
// its transfer would be held to 512-byte blocks.
func Listen(addr string) (net.PacketConn, error) {
	conn, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("tftp: %w", err)
	}
	if err := ipv4.NewPacketConn(conn).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
		conn.Close()
		return nil, fmt.Errorf("tftp: %w", err)
	}
	// A rack powering on sends its read requests in the same instant, and
	// a flood sends thousands: the kernel's default receive buffer (about
	// 200 KiB, some 250 small datagrams) drops the rest, a machine's among
	// them. Ask for more; the kernel caps it at net.core.rmem_max.
	if u, ok := conn.(*net.UDPConn); ok {
		u.SetReadBuffer(readBuffer)
	}
	return conn, nil
}

// Serve answers requests arriving on conn, best opened with Listen, until
// Shutdown is called.
func (s *Server) Serve(conn net.PacketConn) error {
	if err := s.pin.Serve(conn); err != nil {
		return fmt.Errorf("tftp: %w", err)
	}
	return nil
}

// Shutdown closes the socket Serve reads and waits for the transfers under
// way to end (each ends within Timeout times Retries once its client is gone).
func (s *Server) Shutdown() {
	s.cancel()
	s.pin.Shutdown()
}

// Errors sent to clients. Their text is all a client learns.
var (
	errNotFound = errors.New("file not found")
	errAccess   = errors.New("access violation")
	errInternal = errors.New("cannot read file")
)

// read is pin's read handler: one call per read request, in its own goroutine.
func (s *Server) read(name string, rf io.ReaderFrom) (err error) {
	start := time.Now()
	req := Request{Name: name}
	if ot, ok := rf.(pin.OutgoingTransfer); ok {
		ra := ot.RemoteAddr()
		ap := ra.AddrPort()
		req.Remote = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if pi, ok := rf.(pin.RequestPacketInfo); ok {
		if ip, ok := netip.AddrFromSlice(pi.LocalIP()); ok {
			req.Local = ip.Unmap()
		}
	}
	ev := Event{Request: req, Size: -1}
	client := req.Remote.Addr()
	isKnown := s.policy == Allow || s.known(client)
	if !isKnown && s.policy == Refuse {
		return s.refuse(req, refusedUnknown, errRefused)
	}
	if reason, ok := s.limit.acquire(s.ctx, req.Remote, name, isKnown); !ok {
		return s.refuse(req, reason, errBusy)
	}
	defer s.limit.release(req.Remote, name)
	defer func() {
		if v := recover(); v != nil {
			ev.Outcome, ev.Err, ev.Duration = Failed, fmt.Errorf("panic: %v", v), time.Since(start)
			s.finish(ev)
			err = errInternal
		}
	}()

	f, err := s.opener.Open(s.ctx, req)
	ev.Owner = f.Owner
	if err != nil {
		ev.Duration, ev.Err = time.Since(start), err
		ev.Outcome = NotFound
		switch {
		case errors.Is(err, fs.ErrNotExist):
			err = errNotFound
		case errors.Is(err, fs.ErrPermission):
			err = errAccess
		default:
			ev.Outcome, err = Failed, errInternal
		}
		s.finish(ev)
		return err
	}
	if f.Close != nil {
		defer f.Close()
	}
	if ev.Size, err = size(f); err != nil {
		ev.Outcome, ev.Err, ev.Duration = Failed, err, time.Since(start)
		s.finish(ev)
		return errInternal
	}
	if ot, ok := rf.(pin.OutgoingTransfer); ok {
		ot.SetSize(ev.Size) // answers tsize without the library seeking
	}
	if !isKnown && !oackFirst(rf, ev.Size) {
		return s.refuse(req, refusedNoOptions, errRefused)
	}
	ev.Outcome = Started
	s.report(ev)
	s.m.active.Inc()
	defer s.m.active.Dec()

	lr := &lazyReader{src: f.Content}
	ev.Bytes, err = rf.ReadFrom(lr)
	lr.free()
	ev.Duration = time.Since(start)
	switch {
	case err == nil:
		ev.Outcome = Done
	case clientError(err):
		ev.Outcome, ev.Err = Aborted, err
	default:
		ev.Outcome, ev.Err = Failed, err
	}
	s.finish(ev)
	return nil // the library has already told the client
}

// size returns f's size, seeking to learn it when f.Size is negative.
func size(f File) (int64, error) {
	if f.Size >= 0 {
		return f.Size, nil
	}
	pos, err := f.Content.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	end, err := f.Content.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if _, err := f.Content.Seek(pos, io.SeekStart); err != nil {
		return 0, err
	}
	return end - pos, nil
}

// clientError reports whether err is the client's ERROR packet. pin/tftp
// v3.2.0 has no error type for it; its message is "sending block N:
// code=C, error: ..." (a test pins this down).
func clientError(err error) bool {
	return strings.HasPrefix(err.Error(), "sending block ") && strings.Contains(err.Error(), ": code=")
}

// finish reports a transfer's last event, counts and logs it.
func (s *Server) finish(ev Event) {
	s.m.transfers.WithLabelValues(string(ev.Outcome)).Inc()
	s.m.bytes.Add(float64(ev.Bytes))
	attrs := []any{"ip", ev.Request.Remote.Addr().String(), "file", ev.Request.Name,
		"outcome", string(ev.Outcome), "bytes", ev.Bytes, "duration", ev.Duration}
	if ev.Err != nil {
		attrs = append(attrs, "err", ev.Err)
	}
	if ev.Outcome == Failed {
		s.log.Info("tftp transfer failed", attrs...)
	} else {
		s.log.Debug("tftp transfer", attrs...)
	}
	s.report(ev)
}
