package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// client talks to bootd's per-node boot endpoints under the node URL:
//
//	GET  <url>/time    the server's clock, Unix nanoseconds as text
//	POST <url>/key     form token=<token>; the node's Ceph key, base64 text
//	POST <url>/report  form stage=<stage>&detail=<text>
type client struct {
	base string
	http *http.Client
}

func (e *env) client() (*client, error) {
	raw, err := os.ReadFile(e.path("/proc/cmdline"))
	if err != nil {
		return nil, err
	}
	base := cmdline(raw)["bootd"]
	if base == "" {
		return nil, fmt.Errorf("no bootd= on the kernel command line")
	}
	return &client{base: strings.TrimSuffix(base, "/"), http: newHTTPClient()}, nil
}

func newHTTPClient() *http.Client { return &http.Client{Timeout: 15 * time.Second} }

// serverError is an answer bootd refused with; its message is for the console.
type serverError struct{ msg string }

func (e *serverError) Error() string { return e.msg }

func (c *client) do(ctx context.Context, method, path string, form url.Values) ([]byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &serverError{msg: fmt.Sprintf("bootd refused %s: %s", path, strings.TrimSpace(string(b)))}
	}
	return b, nil
}

func (c *client) serverTime(ctx context.Context) (time.Time, error) {
	b, err := c.do(ctx, http.MethodGet, "/time", nil)
	if err != nil {
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time from bootd: %q", b)
	}
	return time.Unix(0, ns), nil
}

// key exchanges the one-time token for the node's Ceph key (decoded).
func (c *client) key(ctx context.Context, token string) ([]byte, error) {
	b, err := c.do(ctx, http.MethodPost, "/key", url.Values{"token": {token}})
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("bootd sent no usable key")
	}
	return key, nil
}

func (c *client) report(ctx context.Context, stage, detail string) error {
	_, err := c.do(ctx, http.MethodPost, "/report", url.Values{"stage": {stage}, "detail": {detail}})
	return err
}
