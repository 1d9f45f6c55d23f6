package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
)

// saver keeps the first finished boot's script and files, so that a peer
// can serve the same bytes; nil saves nothing.
type saver struct {
	dir  string
	base string // the script's folder (URL path): files are saved relative to it
}

func (s *saver) file(name string, b []byte) {
	if s == nil {
		return
	}
	os.MkdirAll(filepath.Join(s.dir, "tftp"), 0o755)
	os.WriteFile(filepath.Join(s.dir, "tftp", filepath.Base(name)), b, 0o644)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func (s *saver) writer(urlPath string) io.WriteCloser {
	rel, ok := strings.CutPrefix(urlPath, s.baseOrNone())
	if s == nil || !ok || rel == "" || strings.Contains(rel, "..") {
		return nopWriteCloser{io.Discard}
	}
	p := filepath.Join(s.dir, "http", filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nopWriteCloser{io.Discard}
	}
	f, err := os.Create(p)
	if err != nil {
		return nopWriteCloser{io.Discard}
	}
	return f
}

// script saves the script a peer serves: bootd's, without its token and
// node URL (the peer releases no key).
func (s *saver) baseOrNone() string {
	if s == nil || s.base == "" {
		return "\x00"
	}
	return s.base
}

func (s *saver) script(sc *ipxeScript) {
	if s == nil {
		return
	}
	s.base = sc.base
	os.MkdirAll(filepath.Join(s.dir, "http"), 0o755)
	os.WriteFile(filepath.Join(s.dir, "http", "boot.ipxe"), []byte(sc.withoutSecrets()), 0o644)
}
