package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// client talks to bootd's node listener under the node URL, over TLS with
// the certificate whose SHA-256 node.conf names (pinned: no CA, no clock):
//
//	GET  <url>/time    the server's clock, Unix nanoseconds as text
//	POST <url>/key     form token=<token>; "key=<base64>\nreport=<secret>\n"
//	POST <url>/report  form stage=<stage>&detail=<text>&auth=<token or secret>
//
// With several bootd instances on one store, node.conf names the others'
// node listeners (fallback=): a request no instance answers at all (no
// connection, no response) goes to the next, which knows the boot too
// (sessions live in the store). The one that answers is asked first after.
type client struct {
	eps []endpoint
	cur int // the endpoint that answered last
	// auth authenticates reports: the boot's token until the key came,
	// then the report secret that came with it.
	auth string
}

// endpoint is one bootd instance's node URL for this node, with an HTTP
// client pinned to its certificate.
type endpoint struct {
	base string
	http *http.Client
}

// The node listener's endpoints under the node URL. bootd-init imports
// nothing of bootd's (it is a small static binary in every initramfs), so
// it spells them here; its tests serve them at bootfs's layout
// (bootfs.TimeEndpoint and the others), so the two cannot part unseen.
const (
	timeEndpoint   = "time"
	keyEndpoint    = "key"
	reportEndpoint = "report"
)

// reportSecretFile keeps the report secret between bootd-init's calls of
// one boot (map, then report root): root's only, in the initramfs's /run.
const reportSecretFile = "/run/bootd/report"

// newClient returns a client of base pinned to fingerprint (hex SHA-256 of
// the server's certificate). An https URL without a fingerprint, or a plain
// http URL, is refused: the key must not cross the wire in clear.
func newClient(base, fingerprint string) (*client, error) {
	ep, err := newEndpoint(base, fingerprint)
	if err != nil {
		return nil, err
	}
	return &client{eps: []endpoint{ep}}, nil
}

// addFallback adds another instance's node URL, pinned to fingerprint,
// asked after the ones before it.
func (c *client) addFallback(base, fingerprint string) error {
	ep, err := newEndpoint(base, fingerprint)
	if err != nil {
		return err
	}
	c.eps = append(c.eps, ep)
	return nil
}

func newEndpoint(base, fingerprint string) (endpoint, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" {
		return endpoint{}, fmt.Errorf("%s is not an https URL: the key is fetched over TLS only", base)
	}
	pin, err := hex.DecodeString(fingerprint)
	if err != nil || len(pin) != sha256.Size {
		return endpoint{}, fmt.Errorf("node.conf has no certificate fingerprint of bootd to pin")
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The chain is not checked against a CA (there is none) nor the
		// clock (a Pi has no RTC): the certificate itself is pinned below.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("bootd sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
				return fmt.Errorf("bootd's certificate is not the one this node's overlay names (sha256 %x): refusing to talk", sum)
			}
			return nil
		},
	}
	tr := &http.Transport{TLSClientConfig: tc, Proxy: nil}
	return endpoint{base: strings.TrimSuffix(base, "/"), http: &http.Client{Timeout: 15 * time.Second, Transport: tr}}, nil
}

// client returns a client for the running boot: the URL from the kernel
// command line, the pin from node.conf, and the report secret saved by map
// (else the token).
func (e *env) client() (*client, error) {
	s, err := e.readSettings()
	if err != nil {
		return nil, err
	}
	c, err := s.newClient()
	if err != nil {
		return nil, err
	}
	c.auth = s.token
	if b, err := os.ReadFile(e.path(reportSecretFile)); err == nil {
		c.auth = strings.TrimSpace(string(b))
	}
	return c, nil
}

// saveSecret keeps the report secret for the later reports of this boot.
func (e *env) saveSecret(secret string) error {
	p := e.path(reportSecretFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(secret+"\n"), 0o600)
}

// serverError is an answer bootd refused with; its message is for the console.
type serverError struct{ msg string }

func (e *serverError) Error() string { return e.msg }

// unavailableError is bootd's "Ceph unavailable, retry" (503): nothing was
// spent, and the request may be made again after retryAfter (zero when
// bootd named no delay).
type unavailableError struct {
	msg        string
	retryAfter time.Duration
}

func (e *unavailableError) Error() string { return e.msg }

// do makes the request at the endpoint that answered last, and at the
// next ones while none answers (ctx ending stops it).
func (c *client) do(ctx context.Context, method, path string, form url.Values) ([]byte, error) {
	var err error
	for i := range c.eps {
		n := (c.cur + i) % len(c.eps)
		var b []byte
		b, err = c.eps[n].do(ctx, method, path, form)
		var refused *serverError
		var unavailable *unavailableError
		if err == nil || errors.As(err, &refused) || errors.As(err, &unavailable) || ctx.Err() != nil {
			c.cur = n
			return b, err
		}
	}
	return nil, err
}

func (ep endpoint) do(ctx context.Context, method, path string, form url.Values) ([]byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, ep.base+path, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := ep.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	msg := strings.TrimSpace(string(b))
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		// RFC 9110 section 10.2.3: Retry-After in seconds (bootd sends no date).
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return nil, &unavailableError{msg: fmt.Sprintf("bootd cannot answer %s now: %s", path, msg),
			retryAfter: time.Duration(max(secs, 0)) * time.Second}
	case resp.StatusCode != http.StatusOK:
		return nil, &serverError{msg: fmt.Sprintf("bootd refused %s: %s", path, msg)}
	}
	return b, nil
}

func (c *client) serverTime(ctx context.Context) (time.Time, error) {
	b, err := c.do(ctx, http.MethodGet, "/"+timeEndpoint, nil)
	if err != nil {
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time from bootd: %q", b)
	}
	return time.Unix(0, ns), nil
}

// key exchanges the one-time token for the node's Ceph key (decoded) and
// the boot's report secret, which authenticates the client's later reports.
func (c *client) key(ctx context.Context, token string) ([]byte, error) {
	b, err := c.do(ctx, http.MethodPost, "/"+keyEndpoint, url.Values{"token": {token}})
	if err != nil {
		return nil, err
	}
	defer clear(b)
	var enc, secret []byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("key=")); ok {
			enc = v
		} else if v, ok := bytes.CutPrefix(line, []byte("report=")); ok {
			secret = v
		}
	}
	key := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Decode(key, enc)
	if err != nil || n < 16 || len(secret) == 0 {
		clear(key)
		return nil, fmt.Errorf("bootd sent no usable key")
	}
	c.auth = string(secret)
	return key[:n], nil
}

func (c *client) report(ctx context.Context, stage, detail string) error {
	_, err := c.do(ctx, http.MethodPost, "/"+reportEndpoint, url.Values{"stage": {stage}, "detail": {detail}, "auth": {c.auth}})
	return err
}
