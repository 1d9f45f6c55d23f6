package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
)

// bbolt's file format (go.etcd.io/bbolt, internal/common: page.go, meta.go,
// bucket.go, and the free list in internal/freelist), read here without
// bbolt so that a damaged file is found before bbolt walks it: bbolt trusts
// its pages, and on a corrupt one it panics, faults, loops or allocates
// without bound (a cursor descending a branch page that points at itself
// grows its stack until the process is out of memory; TestOpenSurvivesAnyBitFlip
// found it). Multi-byte fields are in the byte order of the machines bootd
// is built for (amd64, arm64).
const (
	pageHeader   = 16 // id uint64, flags uint16, count uint16, overflow uint32
	elementSize  = 16 // branch: pos, ksize uint32, pgid uint64; leaf: flags, pos, ksize, vsize uint32
	bucketHeader = 16 // a bucket value: root pgid uint64, sequence uint64 (root 0: an inline page follows)

	branchFlag, leafFlag, metaFlag, freelistFlag = 0x01, 0x02, 0x04, 0x10
	bucketLeafFlag                               = 0x01

	boltMagic   = 0xED0CDAED
	boltVersion = 2
	metaSize    = 64 // magic, version, page size, flags uint32; root bucket 16; freelist, pgid, txid, checksum uint64
)

var le = binary.LittleEndian

// boltMeta is the meta page bbolt uses: the valid one with the higher
// transaction id (bbolt's DB.meta).
type boltMeta struct {
	pageSize       uint64
	root, freelist uint64
	pgid, txid     uint64
}

// readMeta reads both meta pages of f and picks the one bbolt uses.
func readMeta(f *os.File) (boltMeta, error) {
	read := func(off int64) (boltMeta, error) {
		b := make([]byte, pageHeader+metaSize)
		if _, err := f.ReadAt(b, off); err != nil {
			return boltMeta{}, fmt.Errorf("meta page at %d unreadable: %v", off, err)
		}
		m := b[pageHeader:]
		h := fnv.New64a()
		h.Write(m[:metaSize-8])
		switch {
		case le.Uint32(m) != boltMagic:
			return boltMeta{}, errors.New("no bbolt meta page")
		case le.Uint32(m[4:]) != boltVersion:
			return boltMeta{}, fmt.Errorf("bbolt format version %d", le.Uint32(m[4:]))
		case le.Uint64(m[56:]) != h.Sum64():
			return boltMeta{}, errors.New("meta page checksum mismatch")
		}
		return boltMeta{pageSize: uint64(le.Uint32(m[8:])), root: le.Uint64(m[16:]),
			freelist: le.Uint64(m[32:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, nil
	}
	m0, err0 := read(0)
	size := int64(4096)
	if err0 == nil {
		size = int64(m0.pageSize)
	}
	m1, err1 := read(size)
	for id, off := range []int64{0, size} { // bbolt's check asserts these even on an unused meta page
		h := make([]byte, pageHeader)
		if _, err := f.ReadAt(h, off); err != nil {
			return boltMeta{}, fmt.Errorf("it was cut short (meta page %d unreadable: %v)", id, err)
		}
		if le.Uint64(h) != uint64(id) || le.Uint16(h[8:]) != metaFlag {
			return boltMeta{}, fmt.Errorf("meta page %d has a damaged header (id %d, flags %#x)", id, le.Uint64(h), le.Uint16(h[8:]))
		}
	}
	switch {
	case err0 != nil && err1 != nil:
		return boltMeta{}, fmt.Errorf("it is not a readable bbolt file (%v)", err0)
	case err0 != nil || (err1 == nil && m1.txid > m0.txid):
		return m1, nil
	}
	return m0, nil
}

// walkPages checks the page tree of the file f, size bytes long, as its
// meta m describes it: every page it reaches lies below the high water mark
// and inside the file, says it is the page it is reached as, has the type
// its place needs and elements inside its bounds, and is reached once (so
// the tree has no cycle); the free list's ids lie below the mark.
func walkPages(f *os.File, size int64, m boltMeta) error {
	ps := m.pageSize
	if ps < 512 || ps > 1<<20 || ps&(ps-1) != 0 {
		return fmt.Errorf("it has a page size of %d", ps)
	}
	if m.pgid > uint64(size)/ps {
		return fmt.Errorf("it is %d bytes long but its pages reach %d bytes: it was cut short", size, m.pgid*ps)
	}
	seen := map[uint64]bool{}
	page := func(id uint64, flags uint16) ([]byte, error) {
		if id < 2 || id >= m.pgid {
			return nil, fmt.Errorf("a reference to page %d, outside pages 2 to %d", id, m.pgid-1)
		}
		h := make([]byte, pageHeader)
		if _, err := f.ReadAt(h, int64(id*ps)); err != nil {
			return nil, fmt.Errorf("page %d unreadable: %v", id, err)
		}
		over := uint64(le.Uint32(h[12:]))
		switch {
		case le.Uint64(h) != id:
			return nil, fmt.Errorf("page %d calls itself page %d", id, le.Uint64(h))
		case !oneOf(le.Uint16(h[8:]), flags):
			return nil, fmt.Errorf("page %d has flags %#x where %#x belongs", id, le.Uint16(h[8:]), flags)
		case id+over >= m.pgid:
			return nil, fmt.Errorf("page %d overflows past the last page", id)
		}
		for i := id; i <= id+over; i++ {
			if seen[i] {
				return nil, fmt.Errorf("page %d is reached twice", i)
			}
			seen[i] = true
		}
		b := make([]byte, (over+1)*ps)
		if _, err := f.ReadAt(b, int64(id*ps)); err != nil {
			return nil, fmt.Errorf("page %d unreadable: %v", id, err)
		}
		return b, nil
	}
	var tree func(id uint64) error
	var bucket func(v []byte) error
	// elements checks the elements of page p and returns, for a branch
	// page, the child pages; for a leaf page it checks the buckets in it.
	elements := func(p []byte) ([]uint64, error) {
		n, branch := uint64(le.Uint16(p[10:])), le.Uint16(p[8:])&branchFlag != 0
		if pageHeader+n*elementSize > uint64(len(p)) {
			return nil, fmt.Errorf("page %d counts %d elements, more than it holds", le.Uint64(p), n)
		}
		var kids []uint64
		for i := range n {
			e := p[pageHeader+i*elementSize:]
			at := pageHeader + i*elementSize
			var start, end uint64
			if branch { // pos, ksize, pgid
				start = at + uint64(le.Uint32(e))
				end = start + uint64(le.Uint32(e[4:]))
				kids = append(kids, le.Uint64(e[8:]))
			} else { // flags, pos, ksize, vsize
				start = at + uint64(le.Uint32(e[4:]))
				end = start + uint64(le.Uint32(e[8:])) + uint64(le.Uint32(e[12:]))
			}
			if end > uint64(len(p)) || end < start {
				return nil, fmt.Errorf("element %d of page %d lies outside it", i, le.Uint64(p))
			}
			if !branch && le.Uint32(e)&bucketLeafFlag != 0 {
				if err := bucket(p[start+uint64(le.Uint32(e[8:])) : end]); err != nil {
					return nil, err
				}
			}
		}
		return kids, nil
	}
	tree = func(id uint64) error {
		p, err := page(id, branchFlag|leafFlag)
		if err != nil {
			return err
		}
		kids, err := elements(p)
		for _, k := range kids {
			if err == nil {
				err = tree(k)
			}
		}
		return err
	}
	bucket = func(v []byte) error {
		if len(v) < bucketHeader {
			return errors.New("a bucket entry too short to be one")
		}
		if root := le.Uint64(v); root != 0 {
			return tree(root)
		}
		inline := v[bucketHeader:] // an inline bucket: one leaf page inside the value
		if len(inline) < pageHeader || le.Uint16(inline[8:]) != leafFlag {
			return errors.New("an inline bucket that is no leaf page")
		}
		_, err := elements(inline)
		return err
	}
	if err := tree(m.root); err != nil {
		return err
	}
	return walkFreelist(page, m)
}

// walkFreelist checks the free list's page and the ids in it.
func walkFreelist(page func(id uint64, flags uint16) ([]byte, error), m boltMeta) error {
	if m.freelist == ^uint64(0) { // none written (bbolt's NoFreelistSync)
		return nil
	}
	p, err := page(m.freelist, freelistFlag)
	if err != nil {
		return fmt.Errorf("free list: %w", err)
	}
	first, n := uint64(pageHeader), uint64(le.Uint16(p[10:]))
	if n == 0xFFFF { // the count overflows into the first id
		n, first = le.Uint64(p[pageHeader:]), pageHeader+8
	}
	if n > (uint64(len(p))-first)/8 {
		return fmt.Errorf("free list page %d counts %d ids, more than it holds", m.freelist, n)
	}
	for i := range n {
		if id := le.Uint64(p[first+8*i:]); id < 2 || id >= m.pgid {
			return fmt.Errorf("free list names page %d, outside pages 2 to %d", id, m.pgid-1)
		}
	}
	return nil
}

// oneOf says whether f is exactly one of the flag bits in allowed.
func oneOf(f, allowed uint16) bool { return f != 0 && f&(f-1) == 0 && f&^allowed == 0 }
