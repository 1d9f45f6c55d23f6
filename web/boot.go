package web

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs"
	"github.com/go-chi/chi/v5"
)

// routesBoot adds the boot file routes; r is mounted at bootfs.Root. They
// need no token (firmware cannot send one) and serve nothing secret: iPXE
// binaries, and each node's tree of kernel, initrds and generated files.
// The paths are bootfs.Layout's (TestLayoutServed):
//
//	/boot/ipxe/{file}     an iPXE binary (UEFI HTTP boot)
//	/boot/{mac}/{name}    a file of the node's tree, e.g. /boot/52-54-00-12-34-56/boot.ipxe
func (s *server) routesBoot(r chi.Router) {
	r.Use(s.bootLimit.wrap)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r.Method(method, "/"+bootfs.IPXEFolder+"/{file}", http.HandlerFunc(s.bootIPXE))
		r.Method(method, "/{mac}/*", http.HandlerFunc(s.bootNode))
	}
}

// routesGrub adds GRUB's folder, mounted at /grub: where the network GRUB
// of a Secure Boot chain loaded over UEFI HTTP boot asks for its
// configuration (bootfs/secureboot.go): /grub/grub.cfg, for the node at
// the asking address, or /grub/grub.cfg-01-{mac}.
func (s *server) routesGrub(r chi.Router) {
	r.Use(s.bootLimit.wrap)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r.Method(method, "/{file}", http.HandlerFunc(s.bootGrub))
	}
}

// bootGrub answers /grub/{file}.
func (s *server) bootGrub(w http.ResponseWriter, r *http.Request) {
	c, _, ok, err := s.files.GrubConfig(r.Context(), "grub/"+chi.URLParam(r, "file"), remoteAddr(r).AsSlice(), false)
	if !ok && err == nil {
		err = fmt.Errorf("%w: %s", bootfs.ErrNotFound, r.URL.Path)
	}
	if err != nil {
		s.bootFail(w, r, err)
		return
	}
	s.sendBoot(w, r, c)
}

// bootIPXE answers /boot/ipxe/{file}.
func (s *server) bootIPXE(w http.ResponseWriter, r *http.Request) {
	c, err := s.files.IPXE(chi.URLParam(r, "file"))
	if err != nil {
		s.bootFail(w, r, err)
		return
	}
	s.sendBoot(w, r, c)
}

// bootNode answers /boot/{mac}/{name}. The name is taken as the client sent
// it: chi matches the escaped path when there is one, so a percent-encoded
// name arrives with its % signs, and bootfs.CheckName refuses it.
func (s *server) bootNode(w http.ResponseWriter, r *http.Request) {
	mac, err := pathMAC(r)
	if err != nil {
		s.bootFail(w, r, fmt.Errorf("%w: %v", bootfs.ErrNotFound, err))
		return
	}
	// shim, loading GRUB over UEFI HTTP boot, joins its own folder and
	// GRUB's name with a doubled slash (/boot/<mac>//grubx64.efi): one
	// leading slash of the name changes nothing.
	name := strings.TrimPrefix(chi.URLParam(r, "*"), "/")
	c, err := s.files.Node(r.Context(), mac, name, remoteAddr(r).AsSlice())
	if err != nil {
		s.bootFail(w, r, err)
		return
	}
	s.sendBoot(w, r, c)
	if c.Kind == bootfs.KindScript && r.Method == http.MethodGet && s.log.Enabled(r.Context(), slog.LevelInfo) {
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		s.log.Info("ipxe script served", "mac", mac.String(), "ip", ip, "enrolled", c.Node != nil)
	}
}

// bootFail answers a boot file request that failed, in plain text for
// firmware consoles. The message is fixed per status: it never names a
// file on the server's disk, nor other machines.
func (s *server) bootFail(w http.ResponseWriter, r *http.Request, err error) {
	code, _ := status(err)
	msg := "not found"
	switch code {
	case http.StatusBadRequest:
		msg = "bad file name"
	case http.StatusNotFound:
	default:
		code, msg = http.StatusInternalServerError, internalMessage
		s.log.Error("boot file failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.log.Debug("boot file not served", "path", r.URL.Path, "status", code, "err", err)
	s.metrics.boot.transfers.WithLabelValues("none", outcomeFor(code)).Inc()
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

func outcomeFor(code int) string {
	if code == http.StatusNotFound {
		return "not_found"
	}
	if code == http.StatusBadRequest {
		return "refused"
	}
	return "failed"
}

// sendBoot sends c with http.ServeContent (Range, HEAD, conditional
// requests), with sendfile for a static file, or whole for a generated iPXE
// script, and queues the fetch for the node's timeline.
func (s *server) sendBoot(w http.ResponseWriter, r *http.Request, c *bootfs.Content) {
	defer c.Close()
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if c.Kind == bootfs.KindScript || c.Kind == bootfs.KindConfig {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	if c.Generated {
		h.Set("Cache-Control", "no-store")
	} else {
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", c.ETag)
	}
	start := time.Now()
	m := s.metrics.boot
	cw := &countingWriter{ResponseWriter: w}
	func() {
		m.active.Inc()
		defer m.active.Dec() // also when the write is aborted by a panic
		if c.Kind == bootfs.KindScript && c.Generated {
			sendScript(cw, r, c) // a few hundred bytes of text: no ranges, nothing to compare
			return
		}
		http.ServeContent(cw, r, c.Name, c.ModTime, c.ReadSeeker)
	}()
	took := time.Since(start)

	want, _ := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	outcome := "done"
	if r.Method == http.MethodGet && cw.n < want {
		outcome = "aborted"
	}
	m.transfers.WithLabelValues(string(c.Kind), outcome).Inc()
	m.bytes.WithLabelValues(string(c.Kind)).Add(float64(cw.n))
	stage := c.Kind.Stage()
	if r.Method != http.MethodGet || c.Node == nil || stage == "" || cw.code >= 300 {
		return
	}
	f := boot.Fetch{Transport: boot.HTTP, File: c.Name, Outcome: boot.FetchDone, Bytes: cw.n, Size: want, Duration: took}
	if cw.code == http.StatusPartialContent {
		f.Outcome = boot.FetchRange
	}
	if outcome == "aborted" {
		f.Outcome = boot.FetchAborted
	}
	ip, _ := netip.ParseAddrPort(r.RemoteAddr)
	// Queued, not waited for: the client has its file, and the next request
	// on this connection need not wait for the disk.
	s.fetches.RecordFetch(c.Node.MAC, stage, ip.Addr(), f)
}

// sendScript sends a generated iPXE script whole, with its length; HEAD gets
// the headers only.
func sendScript(w http.ResponseWriter, r *http.Request, c *bootfs.Content) {
	w.Header().Set("Content-Length", strconv.FormatInt(c.Size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		io.Copy(w, c.ReadSeeker)
	}
}

// countingWriter counts the status and body bytes of a response. It
// passes io.ReaderFrom through, so a file still goes out with sendfile.
type countingWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	rf, ok := c.ResponseWriter.(io.ReaderFrom)
	if !ok {
		n, err := io.Copy(struct{ io.Writer }{c.ResponseWriter}, src)
		c.n += n
		return n, err
	}
	n, err := rf.ReadFrom(src)
	c.n += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
