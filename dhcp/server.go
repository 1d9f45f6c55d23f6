package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a DHCP server for network-booting machines. It is safe for
// concurrent use; Serve may be called once.
type Server struct {
	cfg    Config
	policy Policy
	log    *slog.Logger
	met    *metrics
	pool   *pool // full mode only
	seen   *memory
	slots  chan struct{}
	// lastExhausted is when an exhausted pool was last logged (Unix seconds).
	lastExhausted atomic.Int64
	// bufs holds read buffers: a boot storm is many small packets, and a
	// buffer per packet would keep the garbage collector busy. The packet
	// parser copies what it keeps.
	bufs sync.Pool
}

// New returns a server for cfg. In full mode it loads the stored leases.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	met, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, policy: cfg.Policy(), log: cfg.Logger, met: met, seen: newMemory(),
		slots: make(chan struct{}, cfg.MaxInFlight)}
	s.bufs.New = func() any { b := make([]byte, 1500); return &b }
	if cfg.Mode == ModeFull {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if s.pool, err = newPool(ctx, cfg.Pool, cfg.ServerIP, cfg.Leases, cfg.Now()); err != nil {
			return nil, fmt.Errorf("dhcp: %w", err)
		}
		if err := s.registerPool(cfg.Registerer); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Listen binds the DHCP port (and in proxy mode the PXE port) on
// cfg.Interface, for Serve. Callers that want bind errors at start-up,
// before serving in the background, call it first.
func (s *Server) Listen() (conn, pxe net.PacketConn, err error) {
	if conn, err = Listen(s.cfg.Interface, s.cfg.Port); err != nil {
		return nil, nil, err
	}
	if s.cfg.Mode == ModeProxy {
		if pxe, err = Listen(s.cfg.Interface, s.cfg.PXEPort); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	return conn, pxe, nil
}

// ListenAndServe binds the sockets as Listen does and serves until ctx is
// done or a socket fails.
func (s *Server) ListenAndServe(ctx context.Context) error {
	conn, pxe, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, conn, pxe)
}

// Serve answers requests arriving on conn (the DHCP port) and pxe (the PXE
// port 4011; nil for none) until ctx is done, then closes both. It returns
// nil after ctx is done, or the error of a socket that failed.
func (s *Server) Serve(ctx context.Context, conn, pxe net.PacketConn) error {
	s.log.Info("dhcp serving", "mode", string(s.cfg.Mode), "server", s.cfg.ServerIP.String(),
		"listen", conn.LocalAddr().String(), "interface", s.cfg.Interface)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conns := []net.PacketConn{conn}
	if pxe != nil {
		conns = append(conns, pxe)
	}
	errs := make(chan error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() { errs <- s.loop(ctx, c, i == 1, &wg) })
	}
	if s.pool != nil && s.cfg.Pool.Refresh > 0 {
		wg.Go(func() { s.refreshLoop(ctx) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	cancel()
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	return err
}

// loop reads packets from c and hands each to its own goroutine, at most
// MaxInFlight at once.
func (s *Server) loop(ctx context.Context, c net.PacketConn, pxePort bool, wg *sync.WaitGroup) error {
	for {
		bp := s.bufs.Get().(*[]byte)
		buf := *bp
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			s.bufs.Put(bp)
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("dhcp: read: %w", err)
		}
		got := time.Now()
		select {
		case s.slots <- struct{}{}:
		default:
			s.bufs.Put(bp)
			s.met.drop(dropOverload)
			continue
		}
		wg.Go(func() {
			defer func() { <-s.slots; s.bufs.Put(bp) }()
			s.serveOne(ctx, c, buf[:n], from, pxePort, got)
		})
	}
}

// serveOne answers one packet.
func (s *Server) serveOne(ctx context.Context, c net.PacketConn, b []byte, from net.Addr, pxePort bool, got time.Time) {
	src, _ := from.(*net.UDPAddr)
	rep := s.handle(ctx, b, src, pxePort)
	if rep == nil {
		return
	}
	out := rep.pkt.ToBytes()
	// Reported before it leaves: a client may act on an ACK (fetch its
	// script) at once, and Report's hook must have seen the lease by then.
	s.sent(rep)
	if _, err := c.WriteTo(out, rep.to); err != nil {
		s.log.Warn("dhcp send failed", "mac", rep.pkt.ClientHWAddr.String(), "to", rep.to.String(), "err", err)
		return
	}
	s.met.latency.Observe(time.Since(got).Seconds())
}

// refreshLoop reads the lease store again every Pool.Refresh until ctx is
// done, learning the leases other instances made.
func (s *Server) refreshLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Pool.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.pool.refresh(ctx, s.cfg.Now())
		if err != nil && ctx.Err() == nil {
			s.log.Warn("dhcp leases not refreshed from the store", "err", err)
		} else if n > 0 {
			s.log.Debug("dhcp leases of other instances learned", "count", n)
		}
	}
}

// Stats returns full mode's pool state as of now (the zero PoolStats in
// proxy mode).
func (s *Server) Stats() PoolStats {
	if s.pool == nil {
		return PoolStats{}
	}
	return s.pool.stats(s.cfg.Now())
}
