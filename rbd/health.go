package rbd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
)

// healthNamespace and healthObject are where Probe writes: an object of
// bootd's own in its pool, out of every node's namespace.
const (
	healthNamespace = "bootd"
	healthObject    = "health"
)

// Probe asks the cluster what a boot needs of it: the monitors answer and
// the cluster is not HEALTH_ERR (the `health` command, which client.bootd's
// `profile simple-rados-client` may run), and the pool takes a small write.
// It blocks as long as Ceph does (up to the client's Timeout): callers run
// it in the background with their own deadline (ProbeEvery).
func (c *Client) Probe(ctx context.Context) boot.CephHealth {
	var h struct {
		Status string `json:"status"`
		Checks map[string]struct {
			Summary struct {
				Message string `json:"message"`
			} `json:"summary"`
		} `json:"checks"`
	}
	if err := c.monCommand(ctx, map[string]any{"prefix": "health"}, &h); err != nil {
		return boot.CephHealth{Reason: fmt.Sprintf("the monitors did not answer (%v)", err), Checked: time.Now()}
	}
	if h.Status == "HEALTH_ERR" {
		var msgs []string
		for _, c := range h.Checks {
			msgs = append(msgs, c.Summary.Message)
		}
		return boot.CephHealth{Reason: "the cluster is HEALTH_ERR: " + strings.Join(msgs, "; "), Checked: time.Now()}
	}
	io, err := c.ioctx("", healthNamespace)
	if err != nil {
		return boot.CephHealth{Reason: fmt.Sprintf("pool %s: %v", c.cfg.Pool, err), Checked: time.Now()}
	}
	defer io.Destroy()
	if err := io.WriteFull(healthObject, []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return boot.CephHealth{Reason: fmt.Sprintf("pool %s takes no write (%v)", c.cfg.Pool, err), Checked: time.Now()}
	}
	return boot.CephHealth{OK: true, Checked: time.Now()}
}

// ProbeEvery probes the cluster every interval until ctx ends, and calls
// report with each result. A probe that takes longer than deadline is
// reported as Ceph not answering, and no new probe starts until it returns,
// so a hung cluster never piles up calls.
func (c *Client) ProbeEvery(ctx context.Context, interval, deadline time.Duration, report func(boot.CephHealth)) {
	done := make(chan boot.CephHealth, 1)
	busy := false
	tick := time.NewTicker(interval)
	defer tick.Stop()
	start := func() {
		busy = true
		go func() { done <- c.Probe(ctx) }()
	}
	start()
	var overdue <-chan time.Time
	overdue = time.After(deadline)
	for {
		select {
		case <-ctx.Done():
			return
		case h := <-done:
			busy, overdue = false, nil
			report(h)
		case <-overdue:
			overdue = nil
			report(boot.CephHealth{Reason: fmt.Sprintf("Ceph did not answer within %v", deadline), Checked: time.Now()})
		case <-tick.C:
			if !busy {
				start()
				overdue = time.After(deadline)
			}
		}
	}
}
