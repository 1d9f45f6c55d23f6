package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// summary is a storm's outcome, printed and kept as JSON for report.
type summary struct {
	Target   string  `json:"target"`
	Keys     bool    `json:"keys"`
	Nodes    int     `json:"nodes"`
	Failures int     `json:"failures"`
	Waits    int     `json:"waits"`
	Retries  int     `json:"retries"`
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	Load     string  `json:"load"`
	// FailedAt counts failures by stage; Samples holds a few of their errors.
	FailedAt map[string]int `json:"failed_at,omitempty"`
	Samples  []string       `json:"samples,omitempty"`
	Stages   []stageStats   `json:"stages"`
	Limit    *limitResult   `json:"limit,omitempty"`
}

// stageStats are one stage's latencies over the nodes that passed it, in
// seconds.
type stageStats struct {
	Name string  `json:"name"`
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

func summarize(target string, keys bool, results []*result, took time.Duration) *summary {
	s := &summary{Target: target, Keys: keys, Nodes: len(results), Seconds: took.Seconds(), FailedAt: map[string]int{}}
	per := map[string][]time.Duration{}
	for _, r := range results {
		s.Waits += r.waits
		s.Retries += r.retries
		if r.failed != "" {
			s.Failures++
			s.FailedAt[r.failed]++
			if len(s.Samples) < 5 {
				s.Samples = append(s.Samples, fmt.Sprintf("%s at %s: %v", r.mac, r.failed, r.err))
			}
			continue
		}
		s.Bytes += r.bytes // of the machines that finished: what the limit copies again
		for st, d := range r.stages {
			per[st] = append(per[st], d)
		}
	}
	for _, name := range stageOrder {
		ds := per[name]
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		s.Stages = append(s.Stages, stageStats{Name: name, N: len(ds),
			P50: pct(ds, 50), P90: pct(ds, 90), P99: pct(ds, 99), Max: ds[len(ds)-1].Seconds()})
	}
	return s
}

// pct is the p-th percentile of sorted ds (nearest rank), in seconds.
func pct(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	i := (p*len(ds)+99)/100 - 1
	return ds[max(0, min(i, len(ds)-1))].Seconds()
}

func mb(b int64) float64 { return float64(b) / 1e6 }

func (s *summary) print(w io.Writer) {
	what := "the whole chain with key release and reports"
	if !s.Keys {
		what = "the chain without keys"
	}
	fmt.Fprintf(w, "%s: %d nodes at once, %s: %d failed, %d wait scripts, %d 503s waited out, %.0f MB in %.2f s (%.0f MB/s; %s)\n",
		s.Target, s.Nodes, what, s.Failures, s.Waits, s.Retries, mb(s.Bytes), s.Seconds, mb(s.Bytes)/s.Seconds, s.Load)
	for _, st := range stageOrder {
		if n := s.FailedAt[st]; n > 0 {
			fmt.Fprintf(w, "  failed at %s: %d\n", st, n)
		}
	}
	for _, x := range s.Samples {
		fmt.Fprintf(w, "  e.g. %s\n", x)
	}
	fmt.Fprintf(w, "  %-20s %8s %8s %8s %8s\n", "stage (s)", "p50", "p90", "p99", "max")
	for _, st := range s.Stages {
		fmt.Fprintf(w, "  %-20s %8.3f %8.3f %8.3f %8.3f\n", st.Name, st.P50, st.P90, st.P99, st.Max)
	}
	if l := s.Limit; l != nil {
		fmt.Fprintf(w, "physical limit: the same %.0f MB over plain TCP from the same addresses, one connection a file: %.2f s (%.0f MB/s; %s)\n",
			mb(l.Bytes), l.Seconds, mb(l.Bytes)/l.Seconds, l.Load)
		fmt.Fprintf(w, "ratio to the physical limit: %.2f\n", s.Seconds/l.Seconds)
	}
}

// cmdReport prints summaries side by side: the first is the one measured
// (bootd), the others its peers; the ratios are of whole-storm times.
func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("report: name the summaries (run -json) to compare")
	}
	var sums []*summary
	for _, p := range fs.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var s summary
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		sums = append(sums, &s)
	}
	return report(os.Stdout, sums)
}

func report(w io.Writer, sums []*summary) error {
	head := []string{"stage p50 / p99 (s)"}
	for _, s := range sums {
		head = append(head, s.Target)
	}
	fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat("---|", len(head)))
	names := map[string]bool{}
	for _, s := range sums {
		for _, st := range s.Stages {
			names[st.Name] = true
		}
	}
	for _, name := range stageOrder {
		if !names[name] {
			continue
		}
		row := []string{name}
		for _, s := range sums {
			cell := "–"
			for _, st := range s.Stages {
				if st.Name == name {
					cell = fmt.Sprintf("%.3f / %.3f", st.P50, st.P99)
				}
			}
			row = append(row, cell)
		}
		fmt.Fprintln(w, "| "+strings.Join(row, " | ")+" |")
	}
	row := func(label string, f func(*summary) string) {
		r := []string{label}
		for _, s := range sums {
			r = append(r, f(s))
		}
		fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |")
	}
	row("nodes, failed", func(s *summary) string { return fmt.Sprintf("%d, %d", s.Nodes, s.Failures) })
	row("wait scripts, 503s waited out", func(s *summary) string { return fmt.Sprintf("%d, %d", s.Waits, s.Retries) })
	row("bytes received (machines that finished)", func(s *summary) string { return fmt.Sprintf("%.0f MB", mb(s.Bytes)) })
	row("whole storm", func(s *summary) string { return fmt.Sprintf("%.2f s", s.Seconds) })
	row("physical limit, same bytes", func(s *summary) string {
		if s.Limit == nil {
			return "–"
		}
		return fmt.Sprintf("%.2f s", s.Limit.Seconds)
	})
	row("load average", func(s *summary) string { return strings.TrimPrefix(s.Load, "load average ") })
	fmt.Fprintln(w)
	first := sums[0]
	if first.Limit != nil {
		fmt.Fprintf(w, "%s / physical limit: %.2f\n", first.Target, first.Seconds/first.Limit.Seconds)
	}
	for _, s := range sums[1:] {
		fmt.Fprintf(w, "%s / %s: %.2f (whole storm); %.2f per byte\n", first.Target, s.Target,
			first.Seconds/s.Seconds, (first.Seconds/float64(first.Bytes))/(s.Seconds/float64(s.Bytes)))
		for _, x := range []*summary{first, s} {
			if x.Failures > 0 {
				fmt.Fprintf(w, "  %s: %d of %d machines failed; its times are those of the %d that finished\n",
					x.Target, x.Failures, x.Nodes, x.Nodes-x.Failures)
			}
		}
		if l := first.Limit; l != nil {
			// The limit's rate applied to the peer's own bytes.
			fmt.Fprintf(w, "%s / physical limit (its %.0f MB at the limit's rate): %.2f\n", s.Target, mb(s.Bytes),
				s.Seconds/(float64(s.Bytes)*l.Seconds/float64(l.Bytes)))
		}
	}
	return nil
}
