package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/bootd/bootd/boot/store"
)

// runBackup: bootd backup FILE. The running daemon holds the store file
// locked, so the copy comes through its API (GET /api/v1/backup, one read
// transaction); it is written to a temporary file (mode 0600) next to
// FILE, synced, checked as bootd checks a store at start, and only then
// renamed over FILE, so FILE is either the old file or a whole backup.
func runBackup(ctx context.Context, c *client, inv invocation) error {
	dst, err := filepath.Abs(inv.args[0])
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := c.download(ctx, "/api/v1/backup", tmp)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	sum, err := store.Check(tmp.Name())
	if err != nil {
		return fmt.Errorf("backup: the copy bootd sent does not check: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	done = true
	if d, err := os.Open(filepath.Dir(dst)); err == nil { // make the rename durable
		d.Sync()
		d.Close()
	}
	if inv.json {
		return json.NewEncoder(inv.out).Encode(map[string]any{"file": dst, "bytes": n, "nodes": sum.Nodes})
	}
	_, err = fmt.Fprintf(inv.out, "backup of %d nodes written to %s (%d bytes)\n", sum.Nodes, dst, n)
	return err
}

// download streams the answer to a GET of path into w. Unlike do, it keeps
// no copy in memory and has no overall time limit (a large store takes
// long on a slow link); ctx still ends it.
func (c *client) download(ctx context.Context, path string, w io.Writer) (int64, error) {
	req, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return 0, err
	}
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach bootd at %s: %v (is bootd serve running? set --server or BOOTD_SERVER)", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("GET %s: %s", path, resp.Status)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			e.Error = fmt.Sprintf("bootd at %s refused the API token (check --token-file)", c.base)
		}
		return 0, &apiError{resp.StatusCode, e.Error}
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("the copy was cut short after %d bytes: %w", n, err)
	}
	return n, nil
}
