package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// httpClient is one node's HTTP client: its connections leave from ip, and
// with pin its TLS is pinned to that certificate as bootd-init's is.
func httpClient(ip net.IP, pin []byte) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, Proxy: nil, MaxIdleConnsPerHost: 1,
		DisableCompression: true, ResponseHeaderTimeout: time.Minute}
	if pin != nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("no certificate")
				}
				sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
				if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
					return errors.New("certificate does not match node.conf's fingerprint")
				}
				return nil
			}}
	}
	return &http.Client{Transport: tr}
}

func get(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return do(hc, req)
}

func post(ctx context.Context, hc *http.Client, u string, form url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(hc, req)
}

// errRetry is a 503 with Retry-After: the client waits and asks again,
// as iPXE does for a file and bootd-init for its key.
type errRetry struct{ after time.Duration }

func (e *errRetry) Error() string { return fmt.Sprintf("503, retry after %v", e.after) }

// retryAfter is a 503's Retry-After, or nil for any other answer.
func retryAfter(resp *http.Response) *errRetry {
	if resp.StatusCode != http.StatusServiceUnavailable {
		return nil
	}
	n, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || n < 0 || n > 300 {
		return nil
	}
	return &errRetry{after: time.Duration(n) * time.Second}
}

// retrying runs f again after each 503 with Retry-After, waiting at least
// floor (doubling up to ceil) or what the server asked, up to tries times
// in all; retries counts the waits.
func retrying[T any](ctx context.Context, tries int, floor, ceil time.Duration, retries *int, f func() (T, error)) (T, error) {
	wait := floor
	for try := 1; ; try++ {
		v, err := f()
		var r *errRetry
		if !errors.As(err, &r) || try >= tries {
			return v, err
		}
		*retries++
		d := max(wait, r.after, time.Second) // iPXE waits a second at least
		if ceil > 0 {
			d = min(d, ceil)
		}
		wait = min(2*wait, ceil)
		if err := sleep(ctx, d); err != nil {
			return v, err
		}
	}
}

// sleep waits d, or returns ctx's error when it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func do(hc *http.Client, req *http.Request) ([]byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if r := retryAfter(resp); r != nil {
		resp.Body.Close()
		return nil, r
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// fetch downloads u, counting its bytes against Content-Length; keep, when
// not nil, gets every chunk (node.cpio's), and so does the saver when it
// is saving.
func (c *chain) fetch(ctx context.Context, hc *http.Client, u string, keep func([]byte)) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if r := retryAfter(resp); r != nil {
		return 0, r
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("%s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	w := c.save.writer(req.URL.Path)
	defer w.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, err := resp.Body.Read(buf)
		if k > 0 {
			n += int64(k)
			if keep != nil {
				keep(buf[:k])
			}
			w.Write(buf[:k])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s after %d bytes: %w", u, n, err)
		}
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("%s: %d bytes of %d", u, n, resp.ContentLength)
	}
	return n, nil
}
