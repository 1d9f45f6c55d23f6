// Command bootd is a network boot server for diskless machines whose disks
// live in Ceph.
//
// "bootd serve" runs the daemon; the other subcommands talk to a running
// daemon over its JSON API. "bootd help" lists them, and "bootd help <sub>"
// (or "bootd <sub> --help") shows one's usage, flags and an example: both
// print from the table of subcommands in subcommands.go, the one place a
// subcommand is registered.
//
// Client subcommands find the daemon with --server or BOOTD_SERVER and the
// API token with --token-file, BOOTD_TOKEN_FILE or the data folder's
// api-token file. They print tables, or JSON with -o json.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// A DHCP exchange allocates about 10 KiB (the DHCP library) on a small
	// live heap: in a boot storm the garbage collector would run almost
	// without pause. A target of 400 takes about a fifth less CPU per
	// exchange for some tens of MiB (docs/performance.md, DHCP). It is set
	// here, once for the process, rather than as a side effect of starting
	// DHCP; an explicit GOGC wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// errUsage marks errors in the command line; they exit with status 2.
var errUsage = errors.New("usage")

// run runs one bootd command and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		writeOverview(stderr)
		return 2
	}
	err := dispatch(ctx, args, stdout, stderr, getenv)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "bootd: %v\n", err)
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// dispatch runs the subcommand args name (commands(), subcommands.go), or
// prints help.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "--help":
		return runHelp(rest, stdout)
	case "--version":
		name = "version"
	}
	c, ok := lookup(name)
	if !ok {
		return fmt.Errorf("%w: unknown command %q (bootd help lists them)", errUsage, name)
	}
	inv, err := parseCommand(c, rest)
	if errors.Is(err, flag.ErrHelp) {
		return writeHelp(stdout, c)
	}
	if err != nil {
		return err
	}
	if c.check != nil {
		if err := c.check(inv); err != nil {
			return err
		}
	}
	inv.in, inv.out, inv.errOut, inv.getenv = os.Stdin, stdout, stderr, getenv
	if c.local != nil {
		return c.local(ctx, inv)
	}
	return runClient(ctx, c, inv)
}

// runHelp: bootd help [subcommand].
func runHelp(args []string, stdout io.Writer) error {
	switch {
	case len(args) == 0 || args[0] == "help" && len(args) == 1:
		return writeOverview(stdout)
	case len(args) > 1:
		return fmt.Errorf("%w: bootd help [subcommand]", errUsage)
	}
	c, ok := lookup(args[0])
	if !ok {
		return fmt.Errorf("%w: unknown command %q (bootd help lists them)", errUsage, args[0])
	}
	return writeHelp(stdout, c)
}
