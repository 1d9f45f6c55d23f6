package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bootd/bootd/web"
)

// client talks to a running bootd over its JSON API.
type client struct {
	base  string
	token string
	http  *http.Client
}

// clientOptions are the flags every client subcommand takes.
type clientOptions struct {
	server, tokenFile, dataDir, output string
	// caFile and fingerprint say how to verify the admin listener's
	// certificate (clienttls.go).
	caFile, fingerprint string
}

func (o clientOptions) resolve(getenv func(string) string) clientOptions {
	pick := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	o.server = pick(o.server, getenv("BOOTD_SERVER"), defaultServer)
	o.dataDir = pick(o.dataDir, getenv("BOOTD_DATA_DIR"), defaultDataDir)
	o.caFile = pick(o.caFile, getenv("BOOTD_CA_FILE"))
	o.fingerprint = pick(o.fingerprint, getenv("BOOTD_FINGERPRINT"))
	o.tokenFile = pick(o.tokenFile, getenv("BOOTD_TOKEN_FILE"), filepath.Join(o.dataDir, tokenFileName))
	o.output = pick(o.output, "table")
	return o
}

func newClient(o clientOptions) (*client, error) {
	u, err := url.Parse(o.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad --server %q: want the admin listener's URL, like https://127.0.0.1:9443", o.server)
	}
	b, err := os.ReadFile(o.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("no API token: %v (set --token-file or BOOTD_TOKEN_FILE)", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return nil, fmt.Errorf("no API token: %s is empty", o.tokenFile)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if u.Scheme == "https" {
		tc, err := o.tlsConfig()
		if err != nil {
			return nil, err
		}
		hc.Transport = &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment,
			TLSHandshakeTimeout: 10 * time.Second}
	}
	return &client{base: strings.TrimSuffix(o.server, "/"), token: token, http: hc}, nil
}

// request builds a request to the daemon with the token and the CLI's
// User-Agent, which the daemon's audit log reads as via=cli.
func (c *client) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", web.CLIUserAgent+version)
	return req, nil
}

// apiError is an error answer from the daemon.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return e.Message }

// do sends a request with a JSON body (when body is not nil) and decodes a
// JSON answer into out (when out is not nil). It returns the raw answer too,
// for -o json.
func (c *client) do(ctx context.Context, method, path string, body, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := c.request(ctx, method, path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if pe := (*pinError)(nil); errors.As(err, &pe) {
		return nil, pe
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach bootd at %s: %v (is bootd serve running? set --server or BOOTD_SERVER)",
			c.base, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading answer from %s: %w", c.base, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, &apiError{resp.StatusCode, fmt.Sprintf("bootd at %s refused the API token (check --token-file)", c.base)}
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
		}
		return nil, &apiError{resp.StatusCode, e.Error}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("bad answer from %s: %w", c.base, err)
		}
	}
	return raw, nil
}
