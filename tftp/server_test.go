package tftp

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/tftp/tftptest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// files is an Opener over a map of names to contents, recording events.
type files struct {
	data map[string][]byte
	log  *slog.Logger // for the server; nil discards

	mu     sync.Mutex
	events []Event
}

func (f *files) Open(_ context.Context, req Request) (File, error) {
	switch req.Name {
	case "refused":
		return File{Owner: "someone"}, fmt.Errorf("name %q: %w", req.Name, fs.ErrPermission)
	case "broken":
		return File{}, errors.New("open /secret/path/broken: input/output error")
	case "panics":
		panic("opener on fire")
	}
	b, ok := f.data[req.Name]
	if !ok {
		return File{Owner: "someone"}, fmt.Errorf("open %s: %w", req.Name, fs.ErrNotExist)
	}
	return File{Content: bytes.NewReader(b), Size: -1, Owner: "owner-of-" + req.Name}, nil
}

func (f *files) report(ev Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
}

// wait returns the events once n of them have arrived, or fails the test.
func (f *files) wait(t *testing.T, n int) []Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		evs := slices.Clone(f.events)
		f.mu.Unlock()
		if len(evs) >= n || time.Now().After(deadline) {
			if len(evs) < n {
				t.Fatalf("got %d events, want %d: %+v", len(evs), n, evs)
			}
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serve starts a Server for f on 127.0.0.1 and returns its address.
func serve(t *testing.T, f *files, reg prometheus.Registerer, timeout time.Duration) string {
	t.Helper()
	srv, err := New(Config{Opener: f, Report: f.report, Registry: reg, Timeout: timeout, Retries: 2, Logger: f.log})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(conn) }()
	t.Cleanup(func() {
		srv.Shutdown()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v after Shutdown, want nil", err)
		}
	})
	return conn.LocalAddr().String()
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestRealClients fetches files of awkward sizes with curl and atftp at
// both block sizes and checks every byte.
func TestRealClients(t *testing.T) {
	t.Parallel()
	f := &files{data: map[string][]byte{
		"empty":       {},
		"one":         {42},
		"exact-512":   random(t, 512*8),
		"exact-1468":  random(t, 1468*5),
		"dir/big.bin": random(t, 3<<20+17),
	}}
	addr := serve(t, f, nil, 0)
	host, port, _ := net.SplitHostPort(addr)
	for _, client := range []string{"curl", "atftp"} {
		for _, blksize := range []int{512, 1468} {
			for name, want := range f.data {
				t.Run(fmt.Sprintf("%s/%d/%s", client, blksize, name), func(t *testing.T) {
					t.Parallel()
					out := filepath.Join(t.TempDir(), "out")
					var cmd *exec.Cmd
					if client == "curl" {
						cmd = exec.Command("curl", "-sS", "--max-time", "30", "--tftp-blksize", strconv.Itoa(blksize),
							"-o", out, "tftp://"+addr+"/"+name)
					} else {
						cmd = exec.Command("atftp", "--get", "-r", name, "-l", out,
							"--option", "blksize "+strconv.Itoa(blksize), "--option", "tsize 0", host, port)
					}
					if msg, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("%s: %v\n%s", cmd, err, msg)
					}
					got, err := os.ReadFile(out)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s got %d bytes, want %d identical ones", client, len(got), len(want))
					}
				})
			}
		}
	}
}

func TestBlockSizeAndTSize(t *testing.T) {
	t.Parallel()
	want := random(t, 100000)
	f := &files{data: map[string][]byte{"f": want}}
	addr := serve(t, f, nil, 0)
	tests := []struct {
		blksize    int
		wantBlocks int
	}{
		{0, 100000/512 + 1},
		{512, 100000/512 + 1},
		{1024, 100000/1024 + 1},
		{1468, 100000/1468 + 1},
		{8192, 100000/8192 + 1}, // loopback's MTU allows it
	}
	for _, tt := range tests {
		res, err := tftptest.Get(addr, "f", tftptest.Options{BlockSize: tt.blksize, TSize: true})
		if err != nil {
			t.Fatalf("Get(blksize %d) = %v", tt.blksize, err)
		}
		if !bytes.Equal(res.Data, want) || res.Blocks != tt.wantBlocks {
			t.Errorf("Get(blksize %d) = %d bytes in %d blocks, want %d in %d", tt.blksize, len(res.Data), res.Blocks, len(want), tt.wantBlocks)
		}
		if got := res.OACK["tsize"]; got != "100000" {
			t.Errorf("Get(blksize %d): OACK tsize = %q, want 100000", tt.blksize, got)
		}
		if tt.blksize != 0 && res.OACK["blksize"] != strconv.Itoa(tt.blksize) {
			t.Errorf("Get(blksize %d): OACK blksize = %q", tt.blksize, res.OACK["blksize"])
		}
	}
}

// TestErrors checks what clients learn of missing, refused and broken
// files: a TFTP error with a fixed message, never the Opener's text.
func TestErrors(t *testing.T) {
	t.Parallel()
	f := &files{data: map[string][]byte{"ok": []byte("fine")}}
	addr := serve(t, f, nil, 0)
	tests := []struct {
		name, wantMsg string
		wantOutcome   Outcome
	}{
		{"missing", "file not found", NotFound},
		{"refused", "access violation", NotFound},
		{"broken", "cannot read file", Failed},
		{"panics", "cannot read file", Failed},
	}
	for _, tt := range tests {
		_, err := tftptest.Get(addr, tt.name, tftptest.Options{})
		var ep *tftptest.ErrorPacket
		if !errors.As(err, &ep) || ep.Message != tt.wantMsg {
			t.Errorf("Get(%q) = %v, want a TFTP error %q", tt.name, err, tt.wantMsg)
		}
	}
	evs := f.wait(t, len(tests))
	for i, tt := range tests {
		ev := evs[i]
		if ev.Outcome != tt.wantOutcome || ev.Request.Name != tt.name || ev.Err == nil || ev.Size != -1 {
			t.Errorf("event %d = %+v, want %s for %q with an error", i, ev, tt.wantOutcome, tt.name)
		}
	}
	if evs[1].Owner != "someone" {
		t.Errorf("owner of a refused name = %q, want the Opener's %q", evs[1].Owner, "someone")
	}
	// The server survived the panic.
	if res, err := tftptest.Get(addr, "ok", tftptest.Options{}); err != nil || string(res.Data) != "fine" {
		t.Errorf("Get(ok) after a panic = %v, %v", res, err)
	}
}

// TestProbes replays the probes firmware makes: the Raspberry Pi bootloader
// abandons a file after its first block, OVMF after learning its size.
func TestProbes(t *testing.T) {
	t.Parallel()
	data := random(t, 10000)
	var log syncBuffer
	f := &files{data: map[string][]byte{"start4.elf": data},
		log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	addr := serve(t, f, nil, 0)

	res, err := tftptest.Get(addr, "start4.elf", tftptest.Options{BlockSize: 1024, TSize: true, AbortAfter: 1})
	if !errors.Is(err, tftptest.ErrAborted) || res.Blocks != 1 {
		t.Fatalf("Pi probe = %+v, %v; want one block then abort", res, err)
	}
	f.wait(t, 2)
	res, err = tftptest.Get(addr, "start4.elf", tftptest.Options{TSize: true, AbortAfter: -1})
	if !errors.Is(err, tftptest.ErrAborted) || res.OACK["tsize"] != "10000" {
		t.Fatalf("OVMF probe = %+v, %v; want an OACK with tsize 10000", res, err)
	}
	evs := f.wait(t, 4)
	for i, want := range []Outcome{Started, Aborted, Started, Aborted} {
		if evs[i].Outcome != want {
			t.Errorf("event %d = %s (%v), want %s", i, evs[i].Outcome, evs[i].Err, want)
		}
	}
	if evs[1].Bytes != 1024 || evs[3].Bytes != 0 {
		t.Errorf("bytes of the probes = %d and %d, want 1024 and 0", evs[1].Bytes, evs[3].Bytes)
	}
	// Probes are normal: logged at Debug, never as failures.
	text := log.String()
	if strings.Count(text, "level=DEBUG") != 2 || strings.Contains(text, "level=INFO") || strings.Contains(text, "failed") {
		t.Errorf("log of two probes:\n%s\nwant two Debug records and no failure", text)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestEventsAndMetrics(t *testing.T) {
	t.Parallel()
	data := random(t, 5000)
	f := &files{data: map[string][]byte{"boot.bin": data}}
	reg := prometheus.NewRegistry()
	addr := serve(t, f, reg, 0)
	if _, err := tftptest.Get(addr, "boot.bin", tftptest.Options{}); err != nil {
		t.Fatal(err)
	}
	f.wait(t, 2) // the last acknowledgement may still be on its way
	tftptest.Get(addr, "nope", tftptest.Options{})
	evs := f.wait(t, 3)
	start, done := evs[0], evs[1]
	if start.Outcome != Started || start.Size != 5000 || start.Owner != "owner-of-boot.bin" {
		t.Errorf("first event = %+v, want started, size 5000, owner-of-boot.bin", start)
	}
	if done.Outcome != Done || done.Bytes != 5000 || done.Duration <= 0 || done.Err != nil ||
		done.Request.Remote.Addr().String() != "127.0.0.1" || done.Request.Local.String() != "127.0.0.1" {
		t.Errorf("second event = %+v, want done with 5000 bytes from and to loopback", done)
	}
	want := `
# HELP bootd_tftp_requests_held Resent TFTP read requests held until the first of each ends.
# TYPE bootd_tftp_requests_held gauge
bootd_tftp_requests_held 0
# HELP bootd_tftp_requests_waiting TFTP read requests waiting for a place beyond tftp_max_transfers (the queue).
# TYPE bootd_tftp_requests_waiting gauge
bootd_tftp_requests_waiting 0
# HELP bootd_tftp_sent_bytes_total File bytes sent over TFTP.
# TYPE bootd_tftp_sent_bytes_total counter
bootd_tftp_sent_bytes_total 5000
# HELP bootd_tftp_transfers_active TFTP transfers under way.
# TYPE bootd_tftp_transfers_active gauge
bootd_tftp_transfers_active 0
# HELP bootd_tftp_transfers_total TFTP read requests answered, by outcome (done, not_found, aborted, failed).
# TYPE bootd_tftp_transfers_total counter
bootd_tftp_transfers_total{outcome="done"} 1
bootd_tftp_transfers_total{outcome="not_found"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestClientVanishes checks that a client that stops answering frees its
// transfer within Timeout times Retries, as Failed.
func TestClientVanishes(t *testing.T) {
	t.Parallel()
	f := &files{data: map[string][]byte{"f": random(t, 100000)}}
	addr := serve(t, f, nil, 50*time.Millisecond)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raddr, _ := net.ResolveUDPAddr("udp4", addr)
	conn.WriteTo([]byte("\x00\x01f\x00octet\x00"), raddr) // then never acknowledge
	evs := f.wait(t, 2)
	if evs[1].Outcome != Failed || evs[1].Duration > 5*time.Second {
		t.Errorf("abandoned transfer ended as %+v, want failed within seconds", evs[1])
	}
}

func TestWriteRefused(t *testing.T) {
	t.Parallel()
	addr := serve(t, &files{}, nil, 0)
	src := filepath.Join(t.TempDir(), "upload")
	os.WriteFile(src, []byte("x"), 0o600)
	out, err := exec.Command("curl", "-sS", "--max-time", "10", "-T", src, "tftp://"+addr+"/upload").CombinedOutput()
	if err == nil {
		t.Errorf("curl upload succeeded, want a refusal: %s", out)
	}
}

func TestNewNeedsOpener(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Error("New(Config{}) = nil error, want one")
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Opener: &files{}, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Opener: &files{}, Registry: reg}); err == nil || !strings.Contains(err.Error(), "register") {
		t.Errorf("New twice on one registry = %v, want a registration error", err)
	}
}
