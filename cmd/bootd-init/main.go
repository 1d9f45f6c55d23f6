// Command bootd-init runs inside a node's initramfs and maps the node's RBD
// volume, so that the kernel can mount it (as root, or for data).
//
// bootd adds it, statically linked, to the per-image initramfs overlay with a
// small shell script for the image's init (initramfs-tools local-top, or an
// OpenRC service on Alpine) that calls it once the network is up:
//
//	bootd-init map           set the clock, load the rbd modules, fetch the key
//	                         once, map the volume, wait for its device
//	bootd-init report STAGE [DETAIL...]
//	                         tell bootd how far the boot got (root, failed, ...)
//
// It reads where bootd is and its one-time token from the kernel command line
// (bootd=<node URL> bootd.token=<token>) and the volume's non-secret settings
// from /etc/bootd/node.conf. The Ceph key is fetched over TLS (bootd's
// certificate pinned by the fingerprint node.conf names) with the token
// in a POST body, handed to the kernel through the user keyring (add_key(2),
// type "ceph"), and the keyring is cleared after the map: the key is never on
// the command line, in a URL, in a file or in sysfs.
//
// BOOTD_INIT_ROOT prefixes every path it reads or writes (/proc, /sys, /etc,
// /dev, the modules folder) and --dry-run skips the calls that change the
// running kernel (modules, keyring, clock); tests use both.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "bootd-init: %v\n", err)
		os.Exit(1)
	}
}

const usage = "usage: bootd-init [--dry-run] map | report STAGE [DETAIL...] | inventory"

func run(ctx context.Context, args []string) error {
	dry := false
	if len(args) > 0 && args[0] == "--dry-run" {
		dry, args = true, args[1:]
	}
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	env := newEnv(os.Getenv("BOOTD_INIT_ROOT"), dry)
	switch args[0] {
	case "map":
		return env.mapVolume(ctx)
	case "report":
		if len(args) < 2 {
			return fmt.Errorf("%s", usage)
		}
		cl, err := env.client()
		if err != nil {
			return err
		}
		return cl.report(ctx, args[1], strings.Join(args[2:], " "))
	case "inventory":
		return env.sendInventory(ctx)
	default:
		return fmt.Errorf("unknown command %q; %s", args[0], usage)
	}
}

// env is where bootd-init runs: a root prefix for every path, and the kernel
// calls it may make.
type env struct {
	root   string
	kernel kernel
	out    *os.File
	// deviceWait is how long map waits for the block device to appear.
	deviceWait time.Duration
	// sleep, when set, replaces the waits between key requests (tests).
	sleep func(ctx context.Context, d time.Duration) error
}

func newEnv(root string, dry bool) *env {
	e := &env{root: root, out: os.Stderr, deviceWait: 60 * time.Second}
	if dry {
		e.kernel = dryKernel{out: os.Stderr}
	} else {
		e.kernel = realKernel{}
	}
	return e
}

// path returns p under the root prefix.
func (e *env) path(p string) string { return e.root + p }

func (e *env) say(format string, args ...any) {
	fmt.Fprintf(e.out, "bootd: "+format+"\n", args...)
}
