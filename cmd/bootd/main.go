// Command bootd is a network boot server for diskless machines whose disks
// live in Ceph.
//
// "bootd serve" runs the daemon; the other subcommands talk to a running
// daemon over its JSON API:
//
//	bootd serve [--config bootd.yaml] [--data-dir DIR] [--http-listen ADDR] ...
//	bootd enroll <mac> --image NAME [--hostname H] [--size 20G]
//	bootd list | show <mac> | assign <mac> <image> | reimage <mac> [--keep] | forget <mac>
//	bootd netboot <mac> on|off | images | timeline <mac>
//	bootd snapshot <mac> [name] | snapshots <mac> | rollback <mac> <snap> | retire <mac>
//	bootd volume <mac> | unfence <mac> | reconcile [--repair] | golden <image> [--protect]
//
// Client subcommands find the daemon with --server or BOOTD_SERVER and the
// API token with --token-file, BOOTD_TOKEN_FILE or the data folder's
// api-token file. They print tables, or JSON with -o json.
package main

import (
	"context"
	"errors"
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

const usageText = `bootd: a network boot server for diskless machines with disks in Ceph.

Usage:
  bootd serve [flags]                        run the daemon (bootd serve -h for its flags)
  bootd enroll <mac> --image NAME [--hostname H] [--size 20G]
  bootd list                                 list machines (enrolled and discovered)
  bootd show <mac>                           show one machine
  bootd assign <mac> <image>                 change the image a machine boots
  bootd reimage <mac> [--keep [--name N]]    give a machine a fresh clone of its image
                                             (--keep: keep the old volume as a snapshot)
  bootd forget <mac>                         remove a machine's record
  bootd netboot <mac> on|off                 allow or stop network boot
  bootd images                               list the image catalog
  bootd timeline <mac>                       show a machine's recent boots
  bootd explain <mac>                        what each boot stage hands a machine, and checks
  bootd snapshot <mac> [name]                snapshot a machine's volume
  bootd snapshots <mac>                      list its snapshots and kept volumes
  bootd rollback <mac> <snapshot>            return its volume to a snapshot (machine off)
  bootd retire <mac>                         remove its volume, snapshots and Ceph user
  bootd volume <mac>                         show its volume and who holds it
  bootd unfence <mac>                        blocklist whoever holds its volume
  bootd reconcile [--repair] [--dry-run]     compare nodes and volumes (and repair)
  bootd golden <image> [--protect]           check (or protect) an image's golden snapshot
  bootd backup FILE                          copy the running daemon's store to FILE
  bootd version                              print the version

Client flags (every subcommand but serve):
  --server URL       the daemon (env BOOTD_SERVER, default http://127.0.0.1:8080)
  --token-file FILE  the API token (env BOOTD_TOKEN_FILE, default <data-dir>/api-token)
  --data-dir DIR     where to find api-token (env BOOTD_DATA_DIR, default /var/lib/bootd)
  -o table|json      output format (default table)
`

// run runs one bootd command and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = runServe(ctx, rest, stdout, stderr, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
	case "version", "--version":
		fmt.Fprintln(stdout, "bootd", version)
	default:
		c, ok := clientCommands[cmd]
		if !ok {
			fmt.Fprintf(stderr, "bootd: unknown command %q\n\n%s", cmd, usageText)
			return 2
		}
		err = runClient(ctx, cmd, c, rest, stdout, getenv)
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "bootd: %v\n", err)
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}
