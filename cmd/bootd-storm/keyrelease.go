package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/bootd/bootd/images"
)

// release does what bootd-init does in the initramfs: the server's time,
// the "network" report with the boot's token, the key for that token, the
// "volume" report with the secret that came with it; then, as a second
// process would, the "root" report. Every call goes over TLS to the node
// listener, whose certificate node.conf pins.
func (c *chain) release(ctx context.Context, r *result, ip net.IP, sc *ipxeScript, cpio []byte) error {
	t0 := time.Now()
	base, token := sc.arg("bootd"), sc.arg("bootd.token")
	if base == "" || token == "" {
		r.stages[stageKey] += time.Since(t0)
		r.fail(stageKey, fmt.Errorf("the kernel command line has no bootd= or bootd.token=: %q", sc.cmdline))
		return r.err
	}
	pin, err := fingerprint(cpio)
	if err != nil {
		r.fail(stageKey, err)
		return err
	}
	hc := httpClient(ip, pin)
	hc.Timeout = bootdInitTimeout
	defer hc.CloseIdleConnections()
	step := func(stage, path string, form url.Values) ([]byte, error) {
		b, err := post(ctx, hc, base+"/"+path, form)
		var retry *errRetry
		if err != nil && !errors.As(err, &retry) {
			r.fail(stage, fmt.Errorf("%s: %w", path, err))
		}
		return b, err
	}
	if _, err := get(ctx, hc, base+"/time"); err != nil {
		r.fail(stageKey, fmt.Errorf("time: %w", err))
		return err
	}
	if _, err := step(stageKey, "report", url.Values{"stage": {"network"}, "auth": {token}}); err != nil {
		return err
	}
	b, err := retrying(ctx, keyTries, 5*time.Second, 30*time.Second, &r.retries, func() ([]byte, error) {
		return step(stageKey, "key", url.Values{"token": {token}})
	})
	if err != nil {
		if r.failed == "" {
			r.fail(stageKey, fmt.Errorf("key: %w", err))
		}
		return err
	}
	var key, secret string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "key="); ok {
			key = v
		} else if v, ok := strings.CutPrefix(line, "report="); ok {
			secret = v
		}
	}
	r.stages[stageKey] += time.Since(t0)
	if key == "" || secret == "" {
		r.fail(stageKey, errors.New("the key answer has no key or no report secret"))
		return r.err
	}
	t0 = time.Now()
	if _, err := step(stageReports, "report", url.Values{"stage": {"volume"}, "detail": {"/dev/rbd0"}, "auth": {secret}}); err != nil {
		return err
	}
	hc.CloseIdleConnections() // bootd-init report root is another process: another connection
	if _, err := step(stageReports, "report", url.Values{"stage": {"root"}, "detail": {"/dev/rbd0 mounted on /root"}, "auth": {secret}}); err != nil {
		return err
	}
	r.stages[stageReports] += time.Since(t0)
	return nil
}

// What bootd-init does (cmd/bootd-init): each request times out after
// 15 s, and a 503 at the key is asked again up to 12 times in all.
const (
	bootdInitTimeout = 15 * time.Second
	keyTries         = 12
)

// fingerprint is the certificate pin in node.cpio's etc/bootd/node.conf.
func fingerprint(cpio []byte) ([]byte, error) {
	files, err := images.ReadCPIO(cpio)
	if err != nil {
		return nil, fmt.Errorf("node.cpio: %w", err)
	}
	for _, f := range files {
		if strings.TrimPrefix(f.Name, "/") != "etc/bootd/node.conf" {
			continue
		}
		for _, line := range strings.Split(string(f.Data), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "fingerprint="); ok {
				pin, err := hex.DecodeString(strings.TrimSpace(v))
				if err != nil || len(pin) != sha256.Size {
					return nil, fmt.Errorf("node.conf: bad fingerprint %q", v)
				}
				return pin, nil
			}
		}
	}
	return nil, errors.New("node.cpio has no etc/bootd/node.conf with a fingerprint")
}
