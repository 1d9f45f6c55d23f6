//go:build cgo

package radosstore

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/ceph/go-ceph/rados"
)

// Config says where the store lives and how to reach the cluster.
type Config struct {
	ConfFile  string        // ceph.conf (monitors, and the keyring unless Keyring is set)
	Monitors  string        // mon_host, instead of or over ConfFile's
	Keyring   string        // keyring file of User; empty: what ConfFile says
	User      string        // Ceph user without "client."; default "bootd"
	Pool      string        // default "rbd"
	Namespace string        // default "bootd-state"
	Timeout   time.Duration // monitor and OSD operation timeout; default 30s
}

// Store is boot.Store, the DHCP lease store, access.UserStore (and, through
// AuditLog, access.AuditLog) on RADOS objects. Its methods are safe for
// concurrent use, and several Stores, in one process or many, may share one
// pool and namespace.
type Store struct {
	conn *rados.Conn
	io   *rados.IOContext
	feed feed // watch/notify between instances (feed.go)
	// life guards closing: goroutines on io (the feed's) enter while it
	// is open, and Close waits for them before it destroys io.
	life       sync.Mutex
	isClosed   bool
	closed     chan struct{}
	goroutines sync.WaitGroup
}

var (
	_ boot.Store       = (*Store)(nil)
	_ access.UserStore = (*Store)(nil)
)

// Open connects to the cluster as cfg.User and opens cfg.Pool's
// cfg.Namespace, which must exist (the pool; a namespace needs no making).
func Open(cfg Config) (*Store, error) {
	if cfg.User == "" {
		cfg.User = "bootd"
	}
	if cfg.Pool == "" {
		cfg.Pool = "rbd"
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "bootd-state"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	conn, err := rados.NewConnWithUser(cfg.User)
	if err != nil {
		return nil, fmt.Errorf("rados store: %w", err)
	}
	if err := configure(conn, cfg); err != nil {
		conn.Shutdown()
		return nil, fmt.Errorf("rados store: %w", err)
	}
	if err := conn.Connect(); err != nil {
		conn.Shutdown()
		return nil, fmt.Errorf("rados store: connect as client.%s: %w", cfg.User, err)
	}
	io, err := conn.OpenIOContext(cfg.Pool)
	if err != nil {
		conn.Shutdown()
		return nil, fmt.Errorf("rados store: pool %s: %w", cfg.Pool, err)
	}
	io.SetNamespace(cfg.Namespace)
	return &Store{conn: conn, io: io, closed: make(chan struct{})}, nil
}

func configure(conn *rados.Conn, cfg Config) error {
	if cfg.ConfFile != "" {
		if err := conn.ReadConfigFile(cfg.ConfFile); err != nil {
			return fmt.Errorf("read %s: %w", cfg.ConfFile, err)
		}
	} else if cfg.Monitors == "" {
		if err := conn.ReadDefaultConfigFile(); err != nil {
			return fmt.Errorf("read the default ceph.conf: %w", err)
		}
	}
	if cfg.Monitors != "" {
		if err := conn.SetConfigOption("mon_host", cfg.Monitors); err != nil {
			return err
		}
	}
	if cfg.Keyring != "" {
		if err := conn.SetConfigOption("keyring", cfg.Keyring); err != nil {
			return err
		}
	}
	secs := strconv.Itoa(max(1, int(cfg.Timeout.Seconds())))
	for _, o := range []string{"rados_mon_op_timeout", "rados_osd_op_timeout", "client_mount_timeout"} {
		if err := conn.SetConfigOption(o, secs); err != nil {
			return err
		}
	}
	return nil
}

// Close ends the store's connection.
func (s *Store) Close() error {
	s.life.Lock()
	if s.isClosed {
		s.life.Unlock()
		return nil
	}
	s.isClosed = true
	close(s.closed)
	s.life.Unlock()
	s.goroutines.Wait()
	s.io.Destroy()
	s.conn.Shutdown()
	return nil
}

// opError returns the error of a whole operation inside err: go-ceph's
// OperationError does not unwrap to it.
func opError(err error) error {
	var oe rados.OperationError
	if errors.As(err, &oe) && oe.OpError != nil {
		return oe.OpError
	}
	return err
}

// errNotFound tells whether err is RADOS's "no such object".
func errNotFound(err error) bool { return errors.Is(opError(err), rados.ErrNotFound) }

// enter counts a goroutine that uses io in, unless the Store is closed;
// the goroutine calls s.goroutines.Done when it ends.
func (s *Store) enter() bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.isClosed {
		return false
	}
	s.goroutines.Add(1)
	return true
}
