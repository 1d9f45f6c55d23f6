// Command bench-dashboard measures the dashboard's machines page: two bootd
// servers run in this process, each on a real bbolt store in a temporary
// folder, one with -small nodes and one with -large; timeline events stream
// into both at -rate events per second while a live-update stream is open
// on each; the page is fetched from both in turn (so noise falls on both
// alike) and the percentiles of the two are printed side by side, with
// their ratio.
//
//	go run ./scripts/bench-dashboard                  # 50 against 5,000 nodes
//	go run ./scripts/bench-dashboard -large 20000 -requests 1000
//
// It is a benchmark, not a test: it asserts nothing and prints figures.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bootd/bootd/boot"
)

func main() {
	small := flag.Int("small", 50, "nodes of the small store")
	large := flag.Int("large", 5000, "nodes of the large store")
	requests := flag.Int("requests", 500, "page loads measured per store and page")
	rate := flag.Int("rate", 200, "timeline events recorded per second into each store")
	flag.Parse()
	if err := run(*small, *large, *requests, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "bench-dashboard:", err)
		os.Exit(1)
	}
}

// pages are the machines page URLs measured: the default view, and a
// filtered view sorted on a column that changes as events come in.
var pages = []string{"/machines", "/machines?q=debian&sort=stage&dir=desc"}

func run(small, large, requests, rate int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "bench-dashboard")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var servers []*server
	for _, n := range []int{small, large} {
		start := time.Now()
		s, err := startServer(ctx, fmt.Sprintf("%s/%d", dir, n), n)
		if err != nil {
			return err
		}
		defer s.close()
		fmt.Printf("store with %d nodes ready in %v\n", n, time.Since(start).Round(time.Millisecond))
		servers = append(servers, s)
	}
	var events atomic.Int64
	var wg sync.WaitGroup
	const recorders = 8 // each Record is a durable write; several share fsyncs
	for _, s := range servers {
		for r := range recorders {
			wg.Go(func() { s.stream(ctx, r, recorders, rate, &events) })
		}
		wg.Go(func() { s.watch(ctx) })
	}
	defer wg.Wait()
	defer cancel()

	for _, s := range servers { // warm up: templates, caches, connections
		for range 20 {
			if _, err := s.load(ctx, pages[0]); err != nil {
				return err
			}
		}
	}
	times := make([][][]time.Duration, len(pages)) // page, server, samples
	for p := range pages {
		times[p] = make([][]time.Duration, len(servers))
	}
	start := time.Now()
	events.Store(0)
	for i := range requests {
		for p, path := range pages {
			for k := range servers {
				s := servers[(k+i)%len(servers)] // alternate which goes first
				d, err := s.load(ctx, path)
				if err != nil {
					return err
				}
				idx := slices.Index(servers, s)
				times[p][idx] = append(times[p][idx], d)
			}
		}
	}
	took := time.Since(start)
	report(small, large, requests, times, float64(events.Load())/took.Seconds()/float64(len(servers)))
	read, err := storeRead(ctx, servers[1])
	if err != nil {
		return err
	}
	fmt.Printf("for comparison: reading all %d nodes from the store (what every page would pay without the\n"+
		"dashboard's node index) takes %s at the median\n", large, ms(read))
	return nil
}

func report(small, large, requests int, times [][][]time.Duration, rate float64) {
	fmt.Printf("\n%d loads of each page per store, %.0f events/s recorded into each store meanwhile\n\n", requests, rate)
	fmt.Printf("%-42s %7s %9s %9s %9s %9s\n", "page", "nodes", "p50", "p90", "p99", "max")
	for p, path := range pages {
		var p99 []time.Duration
		for k, n := range []int{small, large} {
			ts := slices.Clone(times[p][k])
			slices.Sort(ts)
			q := func(f float64) time.Duration { return ts[min(len(ts)-1, int(f*float64(len(ts))))] }
			fmt.Printf("%-42s %7d %9s %9s %9s %9s\n", path, n, ms(q(0.5)), ms(q(0.9)), ms(q(0.99)), ms(ts[len(ts)-1]))
			p99 = append(p99, q(0.99))
		}
		ratio := float64(p99[1]) / float64(p99[0])
		fmt.Printf("%-42s p99 %d/%d nodes = %.2fx (target < 5x); p99 at %d nodes %s (target < 100 ms): %s\n\n",
			"", large, small, ratio, large, ms(p99[1]), verdict(ratio < 5 && p99[1] < 100*time.Millisecond))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// stream is recorder r of n: it records events into nodes at rate/n per
// second until ctx ends.
func (s *server) stream(ctx context.Context, r, n, rate int, count *atomic.Int64) {
	stages := []boot.Stage{boot.StageDHCP, boot.StageTFTP, boot.StageScript, boot.StageKernel, boot.StageInitrd,
		boot.StageNetwork, boot.StageKey, boot.StageVolume, boot.StageRoot}
	tick := time.NewTicker(time.Second * time.Duration(n) / time.Duration(max(rate, 1)))
	defer tick.Stop()
	for i := r; ; i += n {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		mac := s.macs[(i*7919)%len(s.macs)]
		ev := boot.Event{Stage: stages[i%len(stages)], Source: "198.18.0.1"}
		if _, err := s.svc.Record(ctx, mac, ev); err != nil {
			if ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "record:", err)
			}
			return
		}
		count.Add(1)
	}
}

// storeRead times reading every node from the store, which is what each
// page would cost without the dashboard's node index.
func storeRead(ctx context.Context, s *server) (time.Duration, error) {
	var ts []time.Duration
	for range 20 {
		start := time.Now()
		if _, err := s.svc.Nodes(ctx); err != nil {
			return 0, err
		}
		ts = append(ts, time.Since(start))
	}
	slices.Sort(ts)
	return ts[len(ts)/2], nil
}
