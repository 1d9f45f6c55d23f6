package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrDamaged reports a store file bootd will not run on: empty, cut short or
// corrupt. Open never replaces such a file by an empty store, since a DHCP
// server that forgot its leases hands out addresses already in use and a
// reconcile against no nodes would judge every volume an orphan.
var ErrDamaged = errors.New("store file is damaged")

// damaged is the error Open returns for a damaged file: what is wrong, and
// what the operator can do about it.
func damaged(path, what string) error {
	return fmt.Errorf("%w: %s: %s. bootd will not start on it rather than start with an empty store. "+
		"Restore the last backup made with \"bootd backup\" to %s (with bootd stopped), "+
		"or move the file away to start afresh, forgetting every node, lease and timeline in it",
		ErrDamaged, path, what, path)
}

// maxCheckErrors is how many of tx.Check's findings the error names.
const maxCheckErrors = 3

// openChecked opens an existing store file and checks it whole before
// anything is written to it: its two meta pages (bbolt's checksums), its
// length against the pages the meta page counts, and its page tree and
// free list (pages.go), all read without bbolt, which trusts its pages;
// then, through bbolt, every bucket, key and value (values must be what
// their bucket holds) and bbolt's own consistency check (tx.Check: every
// page reachable or free exactly once, keys in order). A bbolt panic or
// memory fault the page walk did not foresee is turned into ErrDamaged too.
func openChecked(path string, size int64, bopts *bolt.Options) (db *bolt.DB, err error) {
	m, err := walkLocked(path, size, bopts)
	if err != nil {
		return nil, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if db != nil {
				db.Close()
			}
			db, err = nil, damaged(path, fmt.Sprintf("reading it failed (%v)", p))
		}
	}()
	opts := *bopts
	opts.PreLoadFreelist = true // read the free list here, not in tx.Check's goroutine
	if db, err = bolt.Open(path, 0o600, &opts); err != nil {
		return nil, err
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if uint64(tx.ID()) != m.txid {
			return fmt.Errorf("it changed while it was checked (transaction %d, then %d): is another program writing it", m.txid, tx.ID())
		}
		return checkTx(tx)
	}); err != nil {
		db.Close()
		return nil, damaged(path, err.Error())
	}
	return db, nil
}

// walkLocked reads the meta pages and walks the pages of the file at path
// (pages.go), holding the file's lock (the one bbolt takes: flock) so that
// no bootd writes it meanwhile. It returns the meta page bbolt will use.
func walkLocked(path string, size int64, bopts *bolt.Options) (boltMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return boltMeta{}, err
	}
	defer f.Close()
	for deadline := time.Now().Add(bopts.Timeout); ; time.Sleep(50 * time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return boltMeta{}, bolterrors.ErrTimeout
		}
	}
	m, err := readMeta(f)
	if err == nil {
		err = walkPages(f, size, m)
	}
	if err != nil {
		return boltMeta{}, damaged(path, err.Error())
	}
	return m, nil // closing f releases the lock
}

// checkTx checks the buckets and values of tx, and runs bbolt's check.
func checkTx(tx *bolt.Tx) error {
	if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		return checkBucket(name, b)
	}); err != nil {
		return err
	}
	var errs []error
	n := 0
	for err := range tx.Check() { // read to the end: the checker waits for each send
		if n++; len(errs) < maxCheckErrors {
			errs = append(errs, err)
		}
	}
	if n > 0 {
		return fmt.Errorf("bbolt's consistency check found %d problems, first: %w", n, errors.Join(errs...))
	}
	return nil
}

// checkBucket reads every key and value of the top-level bucket name, its
// nested buckets included, and checks that each value is what the bucket
// holds (store.go's layout): JSON for nodes, timelines, intents, users and
// audit records, an expiry (and a MAC) for leases, a decimal schema version
// in meta, a user's name for a token, an 8-byte count in audit.
func checkBucket(name []byte, b *bolt.Bucket) error {
	valid := func(_, v []byte) bool { return json.Valid(v) }
	switch {
	case bytes.Equal(name, bucketLeases):
		valid = func(_, v []byte) bool { return len(v) >= leaseHeader }
	case bytes.Equal(name, bucketMeta), bytes.Equal(name, bucketTokens):
		valid = func(_, v []byte) bool { return len(v) > 0 }
	case bytes.Equal(name, bucketAudit):
		valid = func(k, v []byte) bool {
			if bytes.Equal(k, keyCount) {
				return len(v) == 8
			}
			return json.Valid(v)
		}
	}
	var walk func(path string, b *bolt.Bucket) error
	walk = func(path string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil { // a nested bucket
				nb := b.Bucket(k)
				if nb == nil {
					return fmt.Errorf("%s/%x: a bucket entry that is no bucket", path, k)
				}
				return walk(fmt.Sprintf("%s/%s", path, k), nb)
			}
			if !valid(k, v) {
				return fmt.Errorf("the value of %s/%q is garbled", path, k)
			}
			return nil
		})
	}
	return walk(string(name), b)
}

// statStore says whether the store file at path exists, and its size. An
// empty file is damaged: bbolt would silently make it a new store.
func statStore(path string) (exists bool, size int64, err error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, 0, nil
	case err != nil:
		return false, 0, fmt.Errorf("open store: %w", err)
	case !fi.Mode().IsRegular():
		return false, 0, fmt.Errorf("open store %s: not a regular file", path)
	case fi.Size() == 0:
		return true, 0, damaged(path, "it is empty (0 bytes)")
	}
	return true, fi.Size(), nil
}
