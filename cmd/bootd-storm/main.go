// Command bootd-storm simulates a rack of machines booting at once through
// a boot server, each one doing the whole chain a real BIOS machine does,
// and measures it against the physical limit of the same bytes.
//
//	bootd-storm run [flags]         N simulated nodes, all at once: firmware
//	                                DHCP (through a relay address), TFTP of
//	                                the iPXE binary, iPXE's DHCP, its script,
//	                                kernel and initrds over HTTP, and with
//	                                -keys the trust chain's key release and
//	                                boot reports over TLS
//	bootd-storm copy-serve [flags]  a plain TCP server of bytes (sendfile),
//	                                the other half of run's -limit
//	bootd-storm macs -n N           the simulated nodes' MAC addresses, one a
//	                                line, for enrolling them first
//	bootd-storm report FILE...      a table of run summaries (-json) side by
//	                                side, with their ratios
//
// scripts/bench-storm.sh (make storm) sets up the namespaces, the Ceph
// cluster, bootd, dnsmasq and nginx around it; docs/performance.md has its
// results. run exits non-zero when any node failed.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "bootd-storm: %v\n", err)
		os.Exit(1)
	}
}

const usage = "usage: bootd-storm run|copy-serve|macs|report [flags]"

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:])
	case "copy-serve":
		return cmdCopyServe(ctx, args[1:])
	case "macs":
		return cmdMACs(args[1:])
	case "report":
		return cmdReport(args[1:])
	default:
		return fmt.Errorf("unknown command %q; %s", args[0], usage)
	}
}
