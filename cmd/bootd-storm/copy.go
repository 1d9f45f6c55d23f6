package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// The physical limit: the bytes a storm's nodes received, copied again
// over the same path by the plainest client/server pair there is. Each
// node's files become one TCP connection each, from the node's address, in
// the order it fetched them, every node at once; the server answers a
// connection's 8-byte big-endian length with that many bytes from a file
// (sendfile, as bootd's HTTP sends files) and closes it. No DHCP, no
// protocol, no key: what is left is the kernel moving the bytes.

// limitResult is the copy's measure.
type limitResult struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Load    string  `json:"load"`
}

func cmdCopyServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("copy-serve", flag.ContinueOnError)
	listen := fs.String("listen", "198.18.1.1:9000", "address to listen on")
	size := fs.Int64("size", 64<<20, "size of the file of random bytes it sends from (a longer request sends it again)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.CreateTemp("", "bootd-storm-copy-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.CopyN(f, rand.Reader, *size); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Printf("bootd-storm: copy-serve on %s\n", ln.Addr())
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go serveCopy(conn.(*net.TCPConn), f.Name(), *size)
	}
}

func serveCopy(conn *net.TCPConn, file string, size int64) {
	defer conn.Close()
	var hdr [8]byte
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return
	}
	want := int64(binary.BigEndian.Uint64(hdr[:]))
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	for want > 0 {
		k := min(want, size)
		f.Seek(0, io.SeekStart)
		// net.TCPConn.ReadFrom sends an *io.LimitedReader of an *os.File
		// with sendfile(2).
		n, err := conn.ReadFrom(io.LimitReader(f, k))
		if err != nil || n != k {
			return
		}
		want -= k
	}
}

// copyLimit copies, through the copy-serve at addr, each node's fetched
// sizes from its own address, every node at once.
func copyLimit(ctx context.Context, addr string, results []*result) (*limitResult, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	var firstErr error
	start := time.Now()
	for _, r := range results {
		if r.failed != "" || r.ip == nil {
			continue
		}
		wg.Go(func() {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: r.ip}, Timeout: 10 * time.Second}
			buf := make([]byte, 64<<10)
			for _, size := range r.fetched {
				n, err := copyOne(ctx, d, addr, size, buf)
				mu.Lock()
				total += n
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if firstErr != nil {
		return nil, firstErr
	}
	return &limitResult{Bytes: total, Seconds: took.Seconds()}, nil
}

func copyOne(ctx context.Context, d *net.Dialer, addr string, size int64, buf []byte) (int64, error) {
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(size))
	if _, err := conn.Write(hdr[:]); err != nil {
		return 0, err
	}
	var n int64
	for {
		k, err := conn.Read(buf)
		n += int64(k)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if n != size {
		return n, fmt.Errorf("copy: %d bytes of %d", n, size)
	}
	return n, nil
}
