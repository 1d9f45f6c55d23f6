package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
)

// invocation is one parsed call of a subcommand.
type invocation struct {
	name   string
	args   []string // the positional arguments
	flags  any      // what the command's flags function returned
	in     *os.File // standard input (a password with --password-file -)
	out    io.Writer
	errOut io.Writer
	getenv func(string) string
	json   bool

	opts *clientOptions // the client flags, for client subcommands
}

// parseCommand parses a subcommand's flags and arguments (flags may stand
// before, between or after the arguments). -h and --help give flag.ErrHelp.
func parseCommand(c command, args []string) (invocation, error) {
	fs, opts, extra := c.flagSet()
	pos, err := parseInterleaved(fs, args)
	if err == flag.ErrHelp {
		return invocation{}, err
	}
	if err != nil {
		return invocation{}, fmt.Errorf("%w: %s: %v (bootd %s --help lists its flags)", errUsage, c.name, err, c.name)
	}
	if len(pos) < c.nargs || len(pos) > c.nargs+c.optional {
		return invocation{}, fmt.Errorf("%w: %s", errUsage, strings.TrimSpace("bootd "+c.name+" "+c.args))
	}
	return invocation{name: c.name, args: pos, flags: extra, opts: opts}, nil
}

// runClient runs a parsed client subcommand: it resolves the client flags,
// checks the MAC argument and calls the daemon.
func runClient(ctx context.Context, cmd command, inv invocation) error {
	o := inv.opts.resolve(inv.getenv)
	if o.output != "table" && o.output != "json" {
		return fmt.Errorf("%w: -o %q: want table or json", errUsage, o.output)
	}
	if cmd.nargs > 0 && !cmd.notMAC { // every other subcommand with arguments takes a MAC first
		if _, err := boot.ParseMAC(inv.args[0]); err != nil {
			return err
		}
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	inv.json = o.output == "json"
	return cmd.client(ctx, c, inv)
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

// macPath returns the API path of a node, with the MAC in canonical form.
func macPath(s string, suffix string) string {
	mac, _ := boot.ParseMAC(s) // checked in runClient
	return "/api/v1/nodes/" + url.PathEscape(mac.String()) + suffix
}

type enrollOpts struct{ image, hostname, size *string }

func enrollFlags(fs *flag.FlagSet) any {
	return enrollOpts{
		image:    fs.String("image", "", "image name"),
		hostname: fs.String("hostname", "", "hostname (default: node- and the MAC's 12 hex digits)"),
		size:     fs.String("size", "", "volume size, like 20G (default: the image's)"),
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
	if !once {
		return nodeAction(ctx, c, inv, http.MethodPut, "/netboot", map[string]bool{"enabled": on})
	}
	var resp struct {
		Node boot.Node `json:"node"`
		BMC  string    `json:"bmc"`
	}
	raw, err := c.do(ctx, http.MethodPut, macPath(inv.args[0], "/netboot"), map[string]bool{"enabled": true, "once": true}, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	if err := writeNode(inv.out, &resp.Node); err != nil {
		return err
	}
	if resp.BMC != "" {
		_, err = fmt.Fprintln(inv.out, "bmc:", resp.BMC)
	}
	return err
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

// runReplace: bootd replace <old-mac> <new-mac>.
func runReplace(ctx context.Context, c *client, inv invocation) error {
	old, _ := boot.ParseMAC(inv.args[0])
	to, err := boot.ParseMAC(inv.args[1])
	if err != nil {
		return err
	}
	var resp struct {
		Node boot.Node `json:"node"`
	}
	raw, err := c.do(ctx, http.MethodPost, macPath(inv.args[0], "/replace"), map[string]string{"new": to.String()}, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	fmt.Fprintf(inv.out, "replaced %s by %s: it boots volume %s as %s; %s is retired\n",
		old, to, cmp.Or(resp.Node.Volume, "(none)"), resp.Node.Hostname, old)
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

func runStatus(ctx context.Context, c *client, inv invocation) error {
	var resp struct {
		Version   string                `json:"version"`
		Instances []boot.InstanceStatus `json:"instances"`
	}
	raw, err := c.do(ctx, http.MethodGet, "/api/v1/status", nil, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	return writeStatus(inv.out, resp.Version, resp.Instances, time.Now())
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
