package store

import (
	"fmt"
	"io"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// WriteTo writes a copy of the whole store file to w, as one read
// transaction sees it: consistent, taken while bootd keeps serving (writes
// go on meanwhile and are not in the copy). On success it has written
// exactly the bytes of a store file that Open accepts.
func (s *DB) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Summary is what Check found in a store file.
type Summary struct {
	Schema int // schema version
	Nodes  int // stored nodes, enrolled and discovered
}

// Check checks the store file at path as Open does, without writing to it
// or keeping it open, and counts its nodes. It is for a backup, before it
// replaces anything: the file must not be in use by a running bootd
// (which holds it locked; Check then fails with ErrLocked after a second).
func Check(path string) (Summary, error) {
	exists, size, err := statStore(path)
	if err != nil {
		return Summary{}, err
	}
	if !exists {
		return Summary{}, fmt.Errorf("check store: %s does not exist", path)
	}
	db, err := openChecked(path, size, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return Summary{}, lockedOr(path, err)
	}
	defer db.Close()
	var sum Summary
	err = db.View(func(tx *bolt.Tx) error {
		meta, nodes := tx.Bucket(bucketMeta), tx.Bucket(bucketNodes)
		if meta == nil || nodes == nil {
			return damaged(path, "it is not a bootd store (no schema version or no nodes)")
		}
		v, err := strconv.Atoi(string(meta.Get(keySchema)))
		if err != nil {
			return damaged(path, fmt.Sprintf("its schema version %q is unreadable", meta.Get(keySchema)))
		}
		sum.Schema, sum.Nodes = v, nodes.Stats().KeyN
		return nil
	})
	return sum, err
}
