package bootfs

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"

	"github.com/bootd/bootd/boot"
)

// Secure Boot. An image with a secure_boot section (boot.Image.SecureBoot)
// boots its x64 UEFI machines through a signed chain instead of iPXE,
// which no distribution signs:
//
//  1. DHCP names the node's shim, <mac>/shimx64.efi (TFTP) or its URL
//     (UEFI HTTP boot). Firmware checks it against Microsoft's UEFI CA.
//  2. shim loads grubx64.efi from its own folder, by the same protocol,
//     the image's signed network GRUB, and checks it against the
//     distribution's key.
//  3. GRUB, whose prefix is (tftp,server)/grub or (http,server:port)/grub
//     after how it was loaded, asks for /grub/grub.cfg
//     (Debian's network GRUB; an upstream one asks for
//     grub/grub.cfg-01-<mac> first, GRUB's manual, network boot): the
//     configuration of the node bootd last saw at the asking address
//     (its lease), which loads the image's signed kernel (GRUB checks it
//     through shim) and the initrds, bootd's archives first, with the same
//     command line as the iPXE script.
//
// The initrds are not checked by anyone; docs/images.md says what that
// means for the trust chain.
const (
	ShimFile       = "shimx64.efi" // the name DHCP hands the firmware
	GrubFile       = "grubx64.efi" // the name shim loads from its own folder
	GrubConfigFile = "grub.cfg"    // the node's GRUB configuration, in its tree
	// grubFolder is the prefix of Debian's network GRUB: where it looks
	// for its configuration on the server it was loaded from.
	grubFolder = "grub/"
	// grubConfigPrefix starts the name GRUB asks for first: then ARP
	// type 01 and the MAC with hyphens.
	grubConfigPrefix = grubFolder + "grub.cfg-01-"
	// grubConfigCommon is the name GRUB asks for when it does not ask by
	// MAC: the asking address tells the node.
	grubConfigCommon = grubFolder + "grub.cfg"
)

// GrubConfigName is the name, on either transport, under which GRUB asks
// for mac's configuration.
func GrubConfigName(mac boot.MAC) string { return grubConfigPrefix + MACName(mac) }

// grubConfigMAC returns the MAC a name GRUB asks for names, or false.
func grubConfigMAC(name string) (boot.MAC, bool) {
	s, ok := strings.CutPrefix(name, grubConfigPrefix)
	if !ok || len(s) != 17 {
		return nil, false
	}
	mac, err := boot.ParseMAC(s)
	return mac, err == nil && MACName(mac) == s
}

// secureBoot reports whether plan's machine boots through shim and GRUB.
func secureBoot(plan *boot.Plan) bool { return plan.Image != nil && plan.Image.SecureBoot != nil }

// GrubConfig returns the configuration GRUB asks for by name, from a
// client at remote; tftp says which transport it came by, whose names
// the configuration uses for the kernel and initrds. ok is false when name
// is not one GRUB asks for.
func (f *Files) GrubConfig(ctx context.Context, name string, remote net.IP, tftp bool) (c *Content, node *boot.Node, ok bool, err error) {
	mac, ok := grubConfigMAC(name)
	if name == grubConfigCommon {
		n, err := f.nodes.NodeByAddr(ctx, remote)
		if err != nil {
			return nil, nil, true, notFound("%s: no machine seen at %s", name, remote)
		}
		mac, ok = n.MAC, true
	}
	if !ok {
		return nil, nil, false, nil
	}
	plan, err := f.nodes.Resolve(ctx, mac)
	if err != nil {
		return nil, nil, true, notFound("%s: %v", name, err)
	}
	if !secureBoot(plan) {
		return nil, plan.Node, true, notFound("%s: machine %s does not boot through GRUB", name, mac)
	}
	c, err = f.grubConfig(ctx, plan, remote, tftp)
	if err != nil {
		return nil, plan.Node, true, err
	}
	c.Node, c.SecureBoot = plan.Node, true
	return c, plan.Node, true, nil
}

// grubData fills grub.cfg.
type grubData struct {
	MAC, Hostname, Image string
	// Title is the menu entry's title, quoted for GRUB.
	Title string
	// Kernel is the kernel's path, Args the command line's words, Initrds
	// the initrds' paths, each quoted for GRUB.
	Kernel  string
	Args    []string
	Initrds []string
	// Off: network boot is off (GRUB exits to the next boot device).
	Off bool
	// Problem, quoted: why the machine cannot boot now; it waits Retry
	// seconds and reads its configuration (Self) again.
	Problem string
	Retry   int
	Self    string
}

// grubUnsafe finds what GRUB would not pass on to the kernel as written:
// its command line builder escapes quotes and backslashes.
var grubUnsafe = regexp.MustCompile(`["'\\]`)

// grubConfig renders the node's grub.cfg for a client at remote. Over
// TFTP its paths are TFTP names (<mac>/kernel), over HTTP the node's URLs
// on this server (/boot/<mac>/kernel): GRUB fetches them from the server
// and by the protocol it was loaded with.
func (f *Files) grubConfig(ctx context.Context, plan *boot.Plan, remote net.IP, tftp bool) (*Content, error) {
	n := plan.Node
	d := grubData{MAC: n.MAC.String(), Hostname: n.Hostname, Image: n.Image, Retry: f.retry,
		Self: "/" + GrubConfigName(n.MAC)}
	d.Title = grubQuote("bootd: " + n.Hostname + " (" + n.MAC.String() + ") boots " + n.Image)
	dir := "/" + MACName(n.MAC) + "/"
	if !tftp {
		dir = Root + "/" + MACName(n.MAC) + "/"
	}
	problem := plan.Problem
	switch {
	case !plan.Netboot:
		d.Off = true
	case plan.Wait != "":
		problem = plan.Wait
	}
	if !d.Off && problem == "" {
		cmdline, err := f.cmdline(plan)
		if err != nil {
			problem = err.Error()
		}
		if problem == "" && grubUnsafe.MatchString(cmdline) {
			problem = "the image's kernel command line has a quote or backslash, which GRUB would pass on escaped"
		}
		if problem == "" && f.rbdBoot(plan) {
			extra, err := f.rbdCmdline(plan, remote, true)
			switch {
			case errors.Is(err, boot.ErrTooManyBoots):
				if f.rbd != nil {
					f.rbd.NoteWaiting(n.MAC, boot.WaitBusy, err.Error())
				}
				problem = err.Error()
			case err != nil:
				problem = err.Error()
			}
			cmdline += " " + extra
		}
		for _, w := range strings.Fields(cmdline) {
			d.Args = append(d.Args, grubQuote(w))
		}
	}
	if problem != "" {
		d.Problem = grubQuote("bootd: " + n.Hostname + " (" + n.MAC.String() + ") cannot boot now: " + boot.Printable(problem))
		d.Args = nil
	} else if !d.Off {
		d.Kernel = grubQuote(dir + KernelFile)
		if f.rbdBoot(plan) {
			for _, name := range f.rbdInitrds(plan) {
				d.Initrds = append(d.Initrds, grubQuote(dir+name))
			}
		}
		for i := range plan.Image.Initrds {
			d.Initrds = append(d.Initrds, grubQuote(dir+InitrdFile(i)))
		}
	}
	var b strings.Builder
	if err := f.tmpl.ExecuteTemplate(&b, "grub.cfg", d); err != nil {
		return nil, err
	}
	return generated(GrubConfigFile, KindConfig, []byte(b.String())), nil
}

// grubWord matches a word GRUB's script reader takes as it is.
var grubWord = regexp.MustCompile(`^[A-Za-z0-9._,:/=@+%-]+$`)

// grubQuote returns s as one word of GRUB's script language: as it is
// when it holds nothing special, else in single quotes, inside which
// GRUB expands nothing; a single quote is closed, escaped and reopened
// (GRUB's manual, "Quoting"). Control characters become spaces.
func grubQuote(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if grubWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
