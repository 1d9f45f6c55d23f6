//go:build cgo

package radosstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/ceph/go-ceph/rados"
)

// headerSize is the size of the generation header every object's data
// starts with: 16 hex digits and a newline.
const headerSize = 17

// errConflict reports that an object changed between a read and the write
// made from it; the caller reads again and retries.
var errConflict = errors.New("object changed meanwhile")

// maxRetries bounds the retries of one change under contention.
const maxRetries = 200

// object is what was read of one object: its header and body, and the
// omap values asked for.
type object struct {
	exists bool
	gen    []byte
	body   []byte
	omap   []rados.OmapKeyValue // sorted by key
}

func newGen() []byte {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return append([]byte(hex.EncodeToString(b[:])), '\n')
}

// allOmap asks read for every omap value.
const allOmap = 1 << 30

// read reads oid's data, and the first omapMax values of its omap, in one
// operation.
func (s *Store) read(oid string, omapMax uint64) (object, error) {
	size := 64 << 10
	for {
		op := rados.CreateReadOp()
		buf := make([]byte, size)
		rd := op.Read(0, buf)
		var om *rados.GetOmapStep
		if omapMax > 0 {
			om = op.GetOmapValues("", "", omapMax)
		}
		err := op.Operate(s.io, oid, rados.OperationNoFlag)
		if errNotFound(err) {
			op.Release()
			return object{}, nil
		}
		if err != nil {
			op.Release()
			return object{}, fmt.Errorf("read %s: %w", oid, err)
		}
		n := int(rd.BytesRead)
		if n == size {
			op.Release()
			size *= 4
			continue
		}
		o := object{exists: true}
		if n < headerSize {
			op.Release()
			return object{}, fmt.Errorf("read %s: %d bytes, shorter than its header", oid, n)
		}
		o.gen, o.body = buf[:headerSize], buf[headerSize:n]
		if om != nil {
			for {
				kv, err := om.Next()
				if err != nil {
					op.Release()
					return object{}, fmt.Errorf("read %s's omap: %w", oid, err)
				}
				if kv == nil {
					break
				}
				o.omap = append(o.omap, rados.OmapKeyValue{Key: kv.Key, Value: append([]byte(nil), kv.Value...)})
			}
		}
		op.Release()
		return o, nil
	}
}

// write replaces oid's body with body, when oid is still as old was read
// (or still absent), and adds to the same operation whatever more does
// (omap keys). It returns errConflict when another writer came first.
func (s *Store) write(oid string, old object, body []byte, more func(op *rados.WriteOp)) error {
	op := rados.CreateWriteOp()
	defer op.Release()
	if old.exists {
		op.CmpExt(old.gen, 0)
	} else {
		op.Create(rados.CreateExclusive)
	}
	op.WriteFull(append(newGen(), body...))
	if more != nil {
		more(op)
	}
	return s.operate(op, oid, old)
}

// remove deletes oid when it is still as old was read.
func (s *Store) remove(oid string, old object) error {
	if !old.exists {
		return nil
	}
	op := rados.CreateWriteOp()
	defer op.Release()
	op.CmpExt(old.gen, 0)
	op.Remove()
	return s.operate(op, oid, old)
}

// operate runs op on oid and tells a lost race (errConflict) from a
// failure by reading oid's header again.
func (s *Store) operate(op *rados.WriteOp, oid string, old object) error {
	err := op.Operate(s.io, oid, rados.OperationNoFlag)
	if err == nil {
		return nil
	}
	if !old.exists && errors.Is(opError(err), rados.ErrObjectExists) {
		return errConflict
	}
	if old.exists {
		now, rerr := s.read(oid, 0)
		if rerr == nil && (!now.exists || string(now.gen) != string(old.gen)) {
			return errConflict
		}
	}
	return fmt.Errorf("write %s: %w", oid, err)
}

// retry runs fn until it returns anything but errConflict.
func retry(fn func() error) error {
	for range maxRetries {
		if err := fn(); !errors.Is(err, errConflict) {
			return err
		}
	}
	return fmt.Errorf("gave up after %d conflicting writes", maxRetries)
}
