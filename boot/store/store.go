// Package store keeps bootd's nodes and timelines in one bbolt file in the
// data folder. It implements boot.Store.
//
// Every change is one bbolt transaction, written and synced before the call
// returns; concurrent writers are batched into shared transactions, so many
// changes share one fsync without any of them being less durable. The file
// records a schema version, checked at open, and is locked: a second bootd
// opening the same file gets a clear error instead of waiting forever.
//
// Layout:
//
//	meta/schema            the schema version, decimal
//	nodes/<mac>            a boot.Node as JSON, keyed by the canonical MAC
//	timeline/<mac>/<key>   a boot.Event as JSON; key = boot number (4 bytes)
//	                       and event number (4 bytes), big-endian
//	leases/<ip>            a DHCP lease (leases.go); created on first use
//	instances/<id>         a boot.Instance, the heartbeat (instances.go)
//	users/, tokens/        users and their API tokens' index (users.go)
//	audit/                 the audit log (audit.go)
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bootd/bootd/boot"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout version this package reads and writes.
const SchemaVersion = 1

// FileName is the store's file name inside the data folder.
const FileName = "bootd.db"

var (
	bucketMeta     = []byte("meta")
	bucketNodes    = []byte("nodes")
	bucketTimeline = []byte("timeline")
	keySchema      = []byte("schema")
)

// ErrLocked reports that another process holds the data file.
var ErrLocked = errors.New("data file is in use by another bootd")

// Options tune Open.
type Options struct {
	// LockTimeout is how long Open waits for another process to release the
	// file; zero means one second.
	LockTimeout time.Duration
}

// DB is a bbolt-backed boot.Store.
type DB struct {
	db    *bolt.DB
	path  string
	cache nodeCache // decoded nodes (cache.go)
}

var _ boot.Store = (*DB)(nil)

// Open opens the store file at path, or creates it with mode 0600 when
// there is no file. An existing file is checked whole first (check.go): one
// that is empty, cut short or corrupt is refused with an error wrapping
// ErrDamaged, never opened as an empty store.
func Open(path string, opts Options) (*DB, error) {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	exists, size, err := statStore(path)
	if err != nil {
		return nil, err
	}
	bopts := &bolt.Options{Timeout: opts.LockTimeout}
	var db *bolt.DB
	if exists {
		db, err = openChecked(path, size, bopts) // check.go
	} else {
		db, err = bolt.Open(path, 0o600, bopts)
	}
	if err != nil {
		return nil, lockedOr(path, err)
	}
	s := &DB{db: db, path: path}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.db.View(s.cache.load); err != nil {
		db.Close()
		return nil, damaged(path, err.Error())
	}
	return s, nil
}

// lockedOr turns bbolt's lock timeout into ErrLocked, and gives other
// errors of opening path their context.
func lockedOr(path string, err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("open store %s: %w (stop the other bootd or use another --data-dir)", path, ErrLocked)
	case errors.Is(err, ErrDamaged):
		return err
	}
	return fmt.Errorf("open store %s: %w", path, err)
}

// init creates the buckets of a new file and checks the schema of an old one.
func (s *DB) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if tx.Bucket(bucketNodes) != nil {
				return fmt.Errorf("open store %s: not a bootd data file (no schema version)", s.path)
			}
			var err error
			if meta, err = tx.CreateBucket(bucketMeta); err != nil {
				return err
			}
			if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
				return err
			}
		}
		v, err := strconv.Atoi(string(meta.Get(keySchema)))
		if err != nil {
			return damaged(s.path, fmt.Sprintf("its schema version %q is unreadable", meta.Get(keySchema)))
		}
		if v != SchemaVersion {
			return fmt.Errorf("open store %s: schema version %d, but this bootd reads version %d", s.path, v, SchemaVersion)
		}
		for _, b := range [][]byte{bucketNodes, bucketTimeline, bucketUsers, bucketTokens, bucketAudit} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// Path returns the file's path.
func (s *DB) Path() string { return s.path }

// Close closes the file and releases its lock.
func (s *DB) Close() error { return s.db.Close() }

// write runs fn in a read-write transaction shared with concurrent writers
// (bolt's Batch): fn may run more than once and must not keep side effects
// outside the transaction.
func (s *DB) write(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Batch(fn)
}

func (s *DB) read(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}
