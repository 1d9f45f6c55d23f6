package main

import (
	"context"
	"flag"
	"fmt"
)

// A command is one bootd subcommand. The table in commands() is the only
// place a subcommand is registered: run dispatches from it, bootd help and
// --help print from it, and TestHelpCoversEveryCommand walks it, so a
// subcommand without a summary, a description, an example or help for each
// of its flags fails the tests.
type command struct {
	name    string
	summary string // one line, for the list bootd help prints
	args    string // what follows "bootd <name>" on the usage line
	about   string // one paragraph, for bootd help <name> (wrapped when printed)
	example string // command lines, one a line

	// nargs positional arguments are required and up to optional more allowed.
	nargs, optional int
	// notMAC: a client subcommand's first argument is not a MAC address
	// (client subcommands with arguments otherwise take a MAC first).
	notMAC bool
	// flags defines the subcommand's own flags on fs and returns what its
	// run function reads them from (inv.flags). Nil: no flags of its own.
	flags func(fs *flag.FlagSet) any
	// check, when set, checks the arguments and flags further before the
	// command runs (before the client reads its token): a usage error
	// exits 2 whatever else is wrong.
	check func(inv invocation) error

	// Exactly one of client and local runs it. A client subcommand talks to
	// the daemon, and also takes the client flags (defineClientFlags); a
	// local one runs here.
	client func(ctx context.Context, c *client, inv invocation) error
	local  func(ctx context.Context, inv invocation) error
}

// commands is the table of subcommands, in the order bootd help lists them.
// To add one, add an entry here (and its flags and run function beside the
// others); nothing else registers it.
func commands() []command {
	return []command{
		{name: "serve", summary: "run the daemon: DHCP, TFTP, boot files, API and dashboard", args: "[flags]",
			about: "Runs bootd until SIGINT or SIGTERM. Settings come from built-in defaults, then the YAML file named by " +
				"--config, then BOOTD_* environment variables, then flags, each over the one before (docs/operations.md). " +
				"A setting bootd cannot honour stops it with a one-line message and a non-zero exit.",
			example: "bootd serve --config /etc/bootd/bootd.yaml\nbootd serve --data-dir ./.data --http-listen 127.0.0.1:8080",
			flags:   defineServeFlags, local: runServe},
		{name: "enroll", summary: "enroll a machine on an image", args: "<mac> --image NAME [--hostname H] [--size 20G]", nargs: 1,
			about: "Records the machine with this MAC address, to boot an image of the catalog, with netboot on. With a " +
				"volume backend it clones the image's golden snapshot into the machine's own RBD volume; without one " +
				"the machine is recorded without a volume, and enroll says so.",
			example: "bootd enroll 52:54:00:12:34:56 --image debian-12 --hostname web1 --size 30G",
			flags:   enrollFlags, client: runEnroll},
		{name: "list", summary: "list machines, enrolled and discovered",
			about:   "Prints every machine bootd knows: the enrolled ones and those seen on the network but not enrolled.",
			example: "bootd list\nbootd list -o json", client: runList},
		{name: "show", summary: "show one machine", args: "<mac>", nargs: 1,
			about:   "Prints one machine's record: its image, hostname, volume, netboot, state and last boot.",
			example: "bootd show 52-54-00-12-34-56", client: runShow},
		{name: "assign", summary: "change the image a machine boots", args: "<mac> <image>", nargs: 2,
			about:   "Sets the image an enrolled machine boots. Its volume is kept; bootd reimage gives it a fresh clone of the new image.",
			example: "bootd assign 52:54:00:12:34:56 alpine-3.20", client: runAssign},
		{name: "reimage", summary: "give a machine a fresh clone of its image", args: "<mac> [--keep [--name NAME]] [--reboot]", nargs: 1,
			about: "Replaces a machine's volume with a fresh clone of its image's golden snapshot. Without --keep the old " +
				"volume and its snapshots are deleted; with --keep the old volume is kept whole, under --name or a name " +
				"from the clock, and bootd rollback can return to it. The machine must be off its volume. With --reboot, " +
				"bootd does that through the machine's power driver: power off, release the machine's own dead boot from " +
				"the volume, reimage, one-time network boot on the BMC, power on.",
			example: "bootd reimage 52:54:00:12:34:56 --keep --name before-upgrade\nbootd reimage 52:54:00:12:34:56 --reboot",
			flags:   reimageFlags, client: runReimage},
		{name: "forget", summary: "remove a machine's record", args: "<mac>", nargs: 1,
			about:   "Removes a machine's record and timeline. A machine that still has a volume is refused: retire it first.",
			example: "bootd forget 52:54:00:12:34:56", client: runForget},
		{name: "netboot", summary: "allow or stop network boot", args: "<mac> on|off|once", nargs: 2,
			about: "on: the machine network-boots; off: bootd gives it no boot file, so its firmware boots its next device; " +
				"once: on, and armed for one boot (under key_release armed or lease+armed only an armed boot gets its key); " +
				"for a machine with a power driver, once also sets the BMC's one-time network boot.",
			example: "bootd netboot 52:54:00:12:34:56 off\nbootd netboot 52:54:00:12:34:56 once", client: runNetboot},
		{name: "power", summary: "turn a machine's power on, off, cycle it, or show it; set its power driver",
			args: "<mac> on|off|cycle|status | set <mac> --driver ipmi|redfish|hook|none [--address A] [--user U] " +
				"[--password-file FILE|- | --password-path PATH] [--fingerprint-bmc SHA256]",
			nargs: 2, notMAC: true,
			about: "Drives a machine's power through its BMC (IPMI over LAN, Redfish) or the power_hook command, and " +
				"writes each change to its timeline and the audit log. power set records how: the driver, the BMC's " +
				"address and user, and its password, read from --password-file (mode 0600) or standard input and kept " +
				"by bootd encrypted with the key in its data folder, or --password-path, a file on bootd's host bootd " +
				"reads each time. A changed address or user needs the password again. No flag takes the password " +
				"itself, and no answer shows it. A refused password is an error at once, not retried (docs/hardware.md).",
			example: "bootd power set 52:54:00:12:34:56 --driver ipmi --address 10.0.0.21 --user root --password-file ./r630.pw\n" +
				"bootd power set 52:54:00:12:34:57 --driver redfish --address https://10.0.0.22 --user root --password-file -\n" +
				"bootd power set dc:a6:32:01:02:03 --driver hook --address poe-switch1:7\n" +
				"bootd power 52:54:00:12:34:56 status\nbootd power 52:54:00:12:34:56 cycle",
			flags: powerFlags, check: checkPower, client: runPower},
		{name: "images", summary: "list the image catalog",
			about:   "Prints the images of the daemon's catalog (--images-dir of bootd serve) that machines can be enrolled on.",
			example: "bootd images", client: runImages},
		{name: "timeline", summary: "show a machine's recent boots", args: "<mac>", nargs: 1,
			about:   "Prints a machine's last boots, each with its events: DHCP, the files it fetched, and its boot script's reports.",
			example: "bootd timeline 52:54:00:12:34:56", client: runTimeline},
		{name: "explain", summary: "what each boot stage hands a machine, and checks", args: "<mac>", nargs: 1,
			about: "Prints what bootd would hand the machine at each boot stage (DHCP answers, files, kernel command line, " +
				"its iPXE script with the token redacted) and checks what it needs; exits 1 when a check fails.",
			example: "bootd explain 52:54:00:12:34:56", client: runExplain},
		{name: "snapshot", summary: "snapshot a machine's volume", args: "<mac> [name]", nargs: 1, optional: 1,
			about:   "Saves the state of a machine's volume as a snapshot, under the name given or snap-<date>-<time>.",
			example: "bootd snapshot 52:54:00:12:34:56 before-upgrade", client: runSnapshot},
		{name: "snapshots", summary: "list a machine's snapshots and kept volumes", args: "<mac>", nargs: 1,
			about:   "Prints a machine's snapshots and the volumes bootd reimage --keep kept, oldest first.",
			example: "bootd snapshots 52:54:00:12:34:56", client: runSnapshots},
		{name: "rollback", summary: "return a machine's volume to a snapshot (machine off)", args: "<mac> <snapshot>", nargs: 2,
			about: "Returns a machine's volume to a snapshot or kept volume; what was written since is gone. The machine " +
				"must be off its volume.",
			example: "bootd rollback 52:54:00:12:34:56 before-upgrade", client: runRollback},
		{name: "retire", summary: "remove a machine's volume, snapshots and Ceph user", args: "<mac>", nargs: 1,
			about: "Removes a machine's volume, its snapshots and its Ceph user, and marks it retired with netboot off; " +
				"bootd forget then removes its record. The machine must be off its volume.",
			example: "bootd retire 52:54:00:12:34:56", client: runRetire},
		{name: "replace", summary: "move a dead machine's node (disk, hostname) to the machine that takes its place",
			args: "<old-mac> <new-mac>", nargs: 2,
			about: "Moves an enrolled machine's node to another MAC: the new machine (not enrolled; a discovered one " +
				"is the usual case) gets its hostname, image, netboot setting and volume with its snapshots, and " +
				"boots that disk. Whatever still holds the volume is blocklisted, the volume's Ceph key is made anew, " +
				"and the old MAC is retired (replaced by the new one) with its timeline kept: it gets no key any more. " +
				"An admin's action.",
			example: "bootd replace 52:54:00:12:34:56 52:54:00:65:43:21", client: runReplace},
		{name: "volume", summary: "show a machine's volume and who holds it", args: "<mac>", nargs: 1,
			about:   "Prints a machine's volume as the cluster reports it (size, golden parent, creation) and the clients that have it open.",
			example: "bootd volume 52:54:00:12:34:56", client: runVolume},
		{name: "unfence", summary: "blocklist whoever holds a machine's volume", args: "<mac>", nargs: 1,
			about: "Blocklists every client holding a machine's volume and breaks its lock, so the machine can boot. " +
				"Use it only when the holder is dead or must be cut off.",
			example: "bootd unfence 52:54:00:12:34:56", client: runUnfence},
		{name: "reconcile", summary: "compare machines and volumes (and repair)",
			args: "[--repair] [--dry-run] [--max-delete N] [--allow-mass-delete]",
			about: "Compares the machines with the volumes in the pool and reports volumes without a machine, machines " +
				"without a volume and interrupted operations. With --repair it finishes or undoes the interrupted " +
				"operations, removes volumes without a machine and gives enrolled machines without one a fresh one. " +
				"A repair removes no volume when the store holds no machine, nor more than --max-delete (a tenth of " +
				"the pool, at least 3) unless --allow-mass-delete says so; --dry-run shows what it would do.",
			example: "bootd reconcile\nbootd reconcile --repair --dry-run\nbootd reconcile --repair", flags: reconcileFlags, client: runReconcile},
		{name: "backup", summary: "copy the running daemon's store to a file", args: "FILE", nargs: 1, notMAC: true,
			about: "Copies the running daemon's store (machines, timelines, leases, users, audit log) to FILE, mode 0600, " +
				"checked before it replaces FILE. Restore it by stopping bootd and putting the copy in place of bootd.db.",
			example: "bootd backup /root/bootd-$(date +%F).db", client: runBackup},
		{name: "golden", summary: "check (or protect) an image's golden snapshot", args: "<image> [--protect]", nargs: 1, notMAC: true,
			about: "Checks that an image's golden snapshot exists and is protected, and exits 1 when it is not, so " +
				"scripts can check it; --protect protects it.",
			example: "bootd golden debian-12 --protect", flags: goldenFlags, client: runGolden},
		{name: "user", summary: "add, list, remove users; change roles and passwords; make and revoke tokens",
			args: "add NAME --role ROLE [--password-file FILE|-] | list | remove NAME | role NAME ROLE | " +
				"password NAME --password-file FILE|- | token NAME | revoke NAME TOKEN-ID",
			nargs: 1, optional: 2, notMAC: true,
			about: "Manages the users of the admin listener (an admin's task). A role is viewer (reads), operator " +
				"(also enrolls, assigns, netboots, reimages, snapshots) or admin (also retires, rolls back, unfences, " +
				"repairs, takes backups, manages users); user role changes it. A password, for the dashboard, is read " +
				"from --password-file, a file only its owner may read (mode 0600), or from standard input with " +
				"--password-file -; no flag takes the password itself. A user without one signs in with tokens only. " +
				"user token prints a new API token once (bootd keeps only its hash); user list shows the ids of each " +
				"user's tokens, and user revoke NAME ID revokes one. The last admin cannot be removed or demoted.",
			example: "bootd user add ann --role operator --password-file ./ann.pw\n" +
				"printf %s \"$PW\" | bootd user add bob --role viewer --password-file -\n" +
				"bootd user list\nbootd user role bob operator\nbootd user password ann --password-file ./ann.pw\n" +
				"(umask 077; bootd user token bob > bob.token)\nbootd user revoke bob 0123456789ab\nbootd user remove bob",
			flags: userFlags, check: checkUser, client: runUser},
		{name: "whoami", summary: "show the user the API token belongs to, and its role",
			about:   "Prints the user whose API token the client sends (--token-file) and that user's role.",
			example: "bootd whoami\nbootd whoami --token-file ./bob.token", client: runWhoami},
		{name: "audit", summary: "show the audit log: who did what, to which machine, from where",
			args: "[--mac M] [--since 24h|RFC3339] [--limit N]",
			about: "Prints the audit log, newest first: every state-changing action from the CLI, the API or the " +
				"dashboard, with its time, user, door (cli, api, dashboard), action, machine, target, client " +
				"address and outcome (ok, denied, error, with the reason). --mac, --since and --limit select records.",
			example: "bootd audit --since 24h\nbootd audit --mac 52:54:00:12:34:56 --limit 20 -o json",
			flags:   auditFlags, check: checkAudit, client: runAudit},
		{name: "discover", summary: "open or close the DHCP discover window", args: "open|close|status [--for 10m]",
			nargs: 1, notMAC: true,
			about: "With dhcp_clients known, bootd's DHCP answers only enrolled machines and allowed OUIs; open lets it " +
				"answer any machine for a while (--for, at most 24h), so that new machines are discovered and can be enrolled.",
			example: "bootd discover open --for 30m\nbootd discover close", flags: discoverFlags, client: runDiscover},
		{name: "store", summary: "export the whole store to a file, or import one into a new store", args: "export|import FILE [serve's flags]",
			nargs: 2, notMAC: true,
			about: "With bootd stopped, reads the store serve's settings name (--store bbolt, the file in --data-dir; or " +
				"--store rados with the Ceph settings) and writes all its state (nodes, timelines, intents, leases, users, " +
				"audit) to FILE as JSON, or imports FILE into such a store, which must be empty. An export with --store " +
				"bbolt and an import with --store rados move bootd's state into Ceph (docs/operations.md).",
			example: "bootd store export /root/bootd-state.json --config /etc/bootd/bootd.yaml --store bbolt\n" +
				"bootd store import /root/bootd-state.json --config /etc/bootd/bootd.yaml --store rados",
			flags: defineServeFlags, check: checkStore, local: runStore},
		{name: "status", summary: "list the bootd instances sharing the state: address, version, last heartbeat",
			about: "Prints the answering daemon's version and every bootd instance that shares its state (one for a bbolt " +
				"store; all of them on RADOS): its name, the address machines reach its boot listener at, its version, its " +
				"last heartbeat (every 10 s) and whether it is alive, gone (silent for 30 s) or stopped (it shut down). " +
				"Records silent for a day are deleted.",
			example: "bootd status\nbootd status -o json", client: runStatus},
		{name: "version", summary: "print the version and the admin certificate's SHA-256",
			about: "Prints bootd's version, set when it was built, and, when the data folder holds bootd's own admin " +
				"certificate, its SHA-256: what a CLI on another host pins with --fingerprint.",
			example: "bootd version --data-dir /var/lib/bootd", flags: versionFlags, local: runVersion},
	}
}

// lookup returns the subcommand called name.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func versionFlags(fs *flag.FlagSet) any {
	var dir string
	defineString(fs, &dir, "data-dir", "BOOTD_DATA_DIR", defaultDataDir, "the daemon's data folder, where admin-tls.crt is")
	return &dir
}

func runVersion(_ context.Context, inv invocation) error {
	if _, err := fmt.Fprintln(inv.out, "bootd", version); err != nil {
		return err
	}
	o := clientOptions{dataDir: *inv.flags.(*string)}.resolve(inv.getenv)
	if fp := adminFingerprint(o.dataDir); fp != "" {
		fmt.Fprintf(inv.out, "admin certificate SHA-256: %s (%s)\n", fp, adminCertPath(o.dataDir))
	}
	return nil
}
