package bootfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/bootd/bootd/boot"
)

// Kind says what a file is to a boot; it decides the timeline stage its
// fetch records.
type Kind string

// The kinds of files.
const (
	KindIPXE     Kind = "ipxe"     // an iPXE binary
	KindScript   Kind = "script"   // the node's iPXE script
	KindConfig   Kind = "config"   // a generated Raspberry Pi config.txt or cmdline.txt, or GRUB's grub.cfg
	KindLoader   Kind = "loader"   // a signed boot loader of a Secure Boot chain (shim, GRUB)
	KindKernel   Kind = "kernel"   // the image's kernel
	KindInitrd   Kind = "initrd"   // an initrd, or the Pi's initramfs
	KindFirmware Kind = "firmware" // a file of the image's firmware folder
)

// Stage is the timeline stage a fetch of this kind of file records over
// HTTP; "" for kinds that record none.
func (k Kind) Stage() boot.Stage {
	switch k {
	case KindLoader:
		return boot.StageLoader
	case KindScript, KindConfig:
		return boot.StageScript
	case KindKernel:
		return boot.StageKernel
	case KindInitrd:
		return boot.StageInitrd
	}
	return ""
}

// Content is one file to send. Read it from the start (it is an
// io.ReadSeeker, as http.ServeContent wants) and Close it when done.
type Content struct {
	io.ReadSeeker
	// Name is the name the client asked for.
	Name string
	Kind Kind
	// Size is the length in bytes.
	Size int64
	// ModTime is the static file's modification time; zero for generated files.
	ModTime time.Time
	// ETag is a strong entity tag (RFC 9110 section 8.8.3) for static
	// files, made from size, modification time and inode; "" for generated ones.
	ETag string
	// Generated reports a file made for this request: not to be cached.
	Generated bool
	// Node is the enrolled node whose tree the file is in; nil for iPXE
	// binaries and for the script of a machine that is not enrolled.
	Node *boot.Node
	// SecureBoot marks a file of a node that boots through shim and GRUB
	// (secureboot.go): over TFTP, GRUB's fetches of its configuration,
	// kernel and initrds record those stages, as over HTTP.
	SecureBoot bool
	files      []*os.File
}

// Close closes the files behind c.
func (c *Content) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	c.files = nil
	return errors.Join(errs...)
}

// generated returns Content for bytes made in memory.
func generated(name string, kind Kind, b []byte) *Content {
	return &Content{ReadSeeker: bytes.NewReader(b), Name: name, Kind: kind, Size: int64(len(b)), Generated: true}
}

// errNotRegular reports an open file that is not a regular file.
var errNotRegular = errors.New("not a regular file")

// openRegular opens name (in root when root is not nil) for reading, and
// checks that it is a regular file. O_NONBLOCK keeps a FIFO from blocking
// the open; it changes nothing for regular files.
func openRegular(root *os.Root, name string) (*os.File, os.FileInfo, error) {
	var (
		f   *os.File
		err error
	)
	flags := os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY
	if root != nil {
		f, err = root.OpenFile(name, flags, 0)
	} else {
		f, err = os.OpenFile(name, flags, 0)
	}
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w", name, errNotRegular)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// static returns Content for the open regular files fs, sent one after the other.
func static(name string, kind Kind, fs []*os.File, infos []os.FileInfo) *Content {
	c := &Content{Name: name, Kind: kind, files: fs}
	var etag []byte
	parts := make([]part, len(fs))
	for i, f := range fs {
		st := infos[i]
		parts[i] = part{r: f, size: st.Size()}
		c.Size += st.Size()
		if st.ModTime().After(c.ModTime) {
			c.ModTime = st.ModTime()
		}
		var ino uint64
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			ino = sys.Ino
		}
		etag = fmt.Appendf(etag, "%x-%x-%x.", ino, st.ModTime().UnixNano(), st.Size())
	}
	c.ETag = `"` + string(etag[:len(etag)-1]) + `"`
	if len(fs) == 1 {
		c.ReadSeeker = fs[0]
	} else {
		c.ReadSeeker = &concat{parts: parts, size: c.Size}
	}
	return c
}

type part struct {
	r    io.ReaderAt
	size int64
}

// concat reads several files (or byte slices) as one, as the Raspberry Pi firmware takes a
// single initramfs (the kernel unpacks concatenated cpio archives in turn).
type concat struct {
	parts []part
	size  int64
	off   int64
}

func (c *concat) Read(p []byte) (int, error) {
	if c.off >= c.size {
		return 0, io.EOF
	}
	start := int64(0)
	for _, pt := range c.parts {
		if c.off < start+pt.size {
			n, err := pt.r.ReadAt(p[:min(int64(len(p)), start+pt.size-c.off)], c.off-start)
			c.off += int64(n)
			if err == io.EOF && n > 0 {
				err = nil
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // the file shrank while we sent it
			}
			return n, err
		}
		start += pt.size
	}
	return 0, io.EOF
}

func (c *concat) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += c.off
	case io.SeekEnd:
		offset += c.size
	}
	if offset < 0 {
		return 0, errors.New("seek before start")
	}
	c.off = offset
	return offset, nil
}
