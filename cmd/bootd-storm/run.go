package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bootd/bootd/internal/dhcptest"
)

// macSeed draws the simulated MACs: random (a server that hashes MACs to
// addresses, as dnsmasq does, sees them as it sees a real rack's, not as a
// sequence) but the same in every run, locally administered (never a real
// machine's), the first n of them the same whatever n.
const macSeed = 0x5b007

// nodeMACs are the first n simulated MACs.
func nodeMACs(n int) []net.HardwareAddr { return dhcptest.RandomMACs(macSeed, n) }

func cmdMACs(args []string) error {
	fs := flag.NewFlagSet("macs", flag.ContinueOnError)
	n := fs.Int("n", 1000, "number of nodes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var b strings.Builder
	for _, m := range nodeMACs(*n) {
		fmt.Fprintln(&b, m)
	}
	_, err := os.Stdout.WriteString(b.String())
	return err
}

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	n := fs.Int("n", 1000, "number of simulated nodes, all powered on at once")
	relay := fs.String("relay", "198.18.1.2:67", "the relay agent's address: giaddr of every request, where replies come")
	server := fs.String("dhcp", "198.18.1.1:67", "the DHCP server")
	tftpPort := fs.Int("tftp-port", 69, "the TFTP port on the next server DHCP names")
	keys := fs.Bool("keys", true, "do the trust chain: key release and boot reports (off for a peer without keys)")
	target := fs.String("target", "bootd", "the name of what serves the chain, for the summary")
	limit := fs.String("limit", "", "address of a bootd-storm copy-serve: after the storm, copy the same bytes through it (the physical limit)")
	save := fs.String("save", "", "folder where the first node's script (without its token) and files are kept, for a peer to serve")
	out := fs.String("json", "", "file the summary is written to")
	maxWaits := fs.Int("max-waits", 60, "wait-and-retry scripts a node follows before it counts as failed")
	timeout := fs.Duration("timeout", 15*time.Minute, "the whole storm's deadline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 {
		return errors.New("-n must be positive")
	}
	ra, err := net.ResolveUDPAddr("udp4", *relay)
	if err != nil {
		return fmt.Errorf("-relay: %w", err)
	}
	sa, err := net.ResolveUDPAddr("udp4", *server)
	if err != nil {
		return fmt.Errorf("-dhcp: %w", err)
	}
	r, err := dhcptest.NewRelayAt(ra, sa)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	c := &chain{relay: r, tftpPort: *tftpPort, keys: *keys, maxWaits: *maxWaits}
	results := make([]*result, *n)
	macs := nodeMACs(*n)
	fmt.Fprintf(os.Stderr, "bootd-storm: %d nodes boot through %s at once (%s)\n", *n, *target, load())
	start := time.Now()
	var wg sync.WaitGroup
	for i := range *n {
		cc := c
		if i == 0 && *save != "" {
			c0 := *c
			c0.save = &saver{dir: *save}
			cc = &c0
		}
		wg.Go(func() { results[i] = cc.node(ctx, macs[i]) })
	}
	wg.Wait()
	sum := summarize(*target, *keys, results, time.Since(start))
	sum.Load = load()
	if *limit != "" {
		l, err := copyLimit(ctx, *limit, results)
		if err != nil {
			return fmt.Errorf("physical limit: %w", err)
		}
		l.Load = load()
		sum.Limit = l
	}
	sum.print(os.Stdout)
	if *out != "" {
		b, _ := json.MarshalIndent(sum, "", "  ")
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			return err
		}
	}
	if sum.Failures > 0 {
		return fmt.Errorf("%d of %d nodes failed", sum.Failures, sum.Nodes)
	}
	return nil
}

// load is the machine's load averages, printed beside every figure.
func load() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load average unknown"
	}
	return "load average " + strings.Join(f[:3], " ")
}
