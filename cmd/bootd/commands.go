package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/bootd/bootd/boot"
)

// A clientCommand is one subcommand that talks to the daemon.
type clientCommand struct {
	// args names the positional arguments, for usage messages.
	args string
	// nargs is how many positional arguments it takes; optional more may follow.
	nargs, optional int
	// notMAC: its first argument is not a MAC (e.g. an image name).
	notMAC bool
	// flags adds the subcommand's own flags.
	flags func(fs *flag.FlagSet) any
	run   func(ctx context.Context, c *client, inv invocation) error
}

// invocation is one parsed call of a client subcommand.
type invocation struct {
	name  string
	args  []string
	flags any
	out   io.Writer
	json  bool
}

var clientCommands = map[string]clientCommand{
	"enroll":   {args: "<mac> --image NAME [--hostname H] [--size 20G]", nargs: 1, flags: enrollFlags, run: runEnroll},
	"list":     {nargs: 0, run: runList},
	"show":     {args: "<mac>", nargs: 1, run: runShow},
	"assign":   {args: "<mac> <image>", nargs: 2, run: runAssign},
	"reimage":  {args: "<mac> [--keep [--name NAME]]", nargs: 1, flags: reimageFlags, run: runReimage},
	"forget":   {args: "<mac>", nargs: 1, run: runForget},
	"netboot":  {args: "<mac> on|off|once", nargs: 2, run: runNetboot},
	"images":   {nargs: 0, run: runImages},
	"timeline": {args: "<mac>", nargs: 1, run: runTimeline},
	// cloud disks: commands_volumes.go
	"snapshot":  {args: "<mac> [name]", nargs: 1, optional: 1, run: runSnapshot},
	"snapshots": {args: "<mac>", nargs: 1, run: runSnapshots},
	"rollback":  {args: "<mac> <snapshot>", nargs: 2, run: runRollback},
	"retire":    {args: "<mac>", nargs: 1, run: runRetire},
	"unfence":   {args: "<mac>", nargs: 1, run: runUnfence},
	"volume":    {args: "<mac>", nargs: 1, run: runVolume},
	"reconcile": {args: "[--repair] [--dry-run] [--max-delete N] [--allow-mass-delete]", flags: reconcileFlags, run: runReconcile},
	"golden":    {args: "<image> [--protect]", nargs: 1, notMAC: true, flags: goldenFlags, run: runGolden},
	"explain":   {args: "<mac>", nargs: 1, run: runExplain},             // commands_explain.go
	"backup":    {args: "FILE", nargs: 1, notMAC: true, run: runBackup}, // commands_backup.go
}

// runClient parses a client subcommand's flags and arguments (flags may
// follow arguments) and runs it.
func runClient(ctx context.Context, name string, cmd clientCommand, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	var o clientOptions
	fs.StringVar(&o.server, "server", "", "")
	fs.StringVar(&o.tokenFile, "token-file", "", "")
	fs.StringVar(&o.dataDir, "data-dir", "", "")
	fs.StringVar(&o.output, "o", "", "")
	var extra any
	if cmd.flags != nil {
		extra = cmd.flags(fs)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(fs, err)
	}
	if len(pos) < cmd.nargs || len(pos) > cmd.nargs+cmd.optional {
		return fmt.Errorf("%w: bootd %s %s", errUsage, name, cmd.args)
	}
	o = o.resolve(getenv)
	if o.output != "table" && o.output != "json" {
		return fmt.Errorf("%w: -o %q: want table or json", errUsage, o.output)
	}
	if cmd.nargs > 0 && !cmd.notMAC { // every other subcommand with arguments takes a MAC first
		if _, err := boot.ParseMAC(pos[0]); err != nil {
			return err
		}
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	return cmd.run(ctx, c, invocation{name: name, args: pos, flags: extra, out: stdout, json: o.output == "json"})
}

// parseInterleaved parses flags that may stand before, between or after the
// positional arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func usageError(fs *flag.FlagSet, err error) error {
	if err == flag.ErrHelp {
		return fmt.Errorf("%w: see bootd help", errUsage)
	}
	return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
}

// macPath returns the API path of a node, with the MAC in canonical form.
func macPath(s string, suffix string) string {
	mac, _ := boot.ParseMAC(s) // checked in runClient
	return "/api/v1/nodes/" + url.PathEscape(mac.String()) + suffix
}

type enrollOpts struct{ image, hostname, size *string }

func enrollFlags(fs *flag.FlagSet) any {
	return enrollOpts{
		image:    fs.String("image", "", "image name"),
		hostname: fs.String("hostname", "", "hostname"),
		size:     fs.String("size", "", "volume size, like 20G"),
	}
}

func runEnroll(ctx context.Context, c *client, inv invocation) error {
	o := inv.flags.(enrollOpts)
	if *o.image == "" {
		return fmt.Errorf("%w: bootd enroll <mac> --image NAME: --image is required", errUsage)
	}
	if *o.size != "" {
		if _, err := boot.ParseSize(*o.size); err != nil {
			return err
		}
	}
	mac, _ := boot.ParseMAC(inv.args[0])
	body := map[string]string{"mac": mac.String(), "image": *o.image, "hostname": *o.hostname, "size": *o.size}
	var resp struct {
		Node     boot.Node `json:"node"`
		Warnings []string  `json:"warnings"`
	}
	raw, err := c.do(ctx, http.MethodPost, "/api/v1/nodes", body, &resp)
	if err != nil {
		return err
	}
	if inv.json {
		return writeRaw(inv.out, raw)
	}
	n := resp.Node
	fmt.Fprintf(inv.out, "enrolled %s as %s on image %s (%s)", n.MAC, n.Hostname, n.Image, boot.FormatSize(n.SizeBytes))
	if n.Volume != "" {
		fmt.Fprintf(inv.out, ", volume %s", n.Volume)
	}
	fmt.Fprintln(inv.out)
	for _, w := range resp.Warnings {
		fmt.Fprintln(inv.out, "warning:", w)
	}
	return nil
}

func runList(ctx context.Context, c *client, inv invocation) error {
	var resp struct {
		Nodes []*boot.Node `json:"nodes"`
	}
	raw, err := c.do(ctx, http.MethodGet, "/api/v1/nodes", nil, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	return writeNodes(inv.out, resp.Nodes)
}

func runShow(ctx context.Context, c *client, inv invocation) error {
	return nodeAction(ctx, c, inv, http.MethodGet, "", nil)
}

func runAssign(ctx context.Context, c *client, inv invocation) error {
	return nodeAction(ctx, c, inv, http.MethodPost, "/assign", map[string]string{"image": inv.args[1]})
}

// runNetboot turns netboot on or off, or (once) on and armed for one boot:
// under key_release armed or lease+armed, only an armed boot gets its key.
func runNetboot(ctx context.Context, c *client, inv invocation) error {
	var on, once bool
	switch inv.args[1] {
	case "on":
		on = true
	case "once":
		on, once = true, true
	case "off":
	default:
		return fmt.Errorf("%w: bootd netboot <mac> on|off|once, not %q", errUsage, inv.args[1])
	}
	return nodeAction(ctx, c, inv, http.MethodPut, "/netboot", map[string]bool{"enabled": on, "once": once})
}

// nodeAction calls a route that answers {"node": ...} and shows the node.
func nodeAction(ctx context.Context, c *client, inv invocation, method, suffix string, body any) error {
	var resp struct {
		Node boot.Node `json:"node"`
	}
	raw, err := c.do(ctx, method, macPath(inv.args[0], suffix), body, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	return writeNode(inv.out, &resp.Node)
}

func runForget(ctx context.Context, c *client, inv invocation) error {
	if _, err := c.do(ctx, http.MethodDelete, macPath(inv.args[0], ""), nil, nil); err != nil {
		return err
	}
	mac, _ := boot.ParseMAC(inv.args[0])
	if inv.json {
		return writeRaw(inv.out, []byte(fmt.Sprintf(`{"forgotten":%q}`, mac.String())))
	}
	fmt.Fprintf(inv.out, "forgot %s\n", mac)
	return nil
}

func runImages(ctx context.Context, c *client, inv invocation) error {
	var resp struct {
		Images []*boot.Image `json:"images"`
	}
	raw, err := c.do(ctx, http.MethodGet, "/api/v1/images", nil, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	return writeImages(inv.out, resp.Images)
}

func runTimeline(ctx context.Context, c *client, inv invocation) error {
	var resp struct {
		Boots []boot.Boot `json:"boots"`
	}
	raw, err := c.do(ctx, http.MethodGet, macPath(inv.args[0], "/timeline"), nil, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	return writeTimeline(inv.out, resp.Boots)
}

// orRaw returns err, or writes the daemon's raw JSON answer.
func orRaw(err error, inv invocation, raw []byte) error {
	if err != nil {
		return err
	}
	return writeRaw(inv.out, raw)
}
