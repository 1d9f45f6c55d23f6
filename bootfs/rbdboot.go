package bootfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/images"
)

// What bootd adds to a node's boot so that it maps its RBD volume (see
// package images and cmd/bootd-init). For an initramfs-tools image with a
// modules tree, the node's tree also has:
//
//	overlay.cpio        bootd-init, the rbd modules and scripts/bootd (per image)
//	node.cpio           etc/bootd/node.conf (per node, no secrets)
//
// and its kernel command line gets bootd=<node URL>, a one-time
// bootd.token= and BOOTIF=. An Alpine image's tree has modloop and
// node.apkovl.tar.gz, and its command line gets ip=dhcp, modloop=,
// alpine_repo= and apkovl=. The names are in layout.go.

// RBDNodes is what the RBD boot needs of the domain, beyond Nodes;
// *boot.Service satisfies it.
type RBDNodes interface {
	// MapTarget returns what the node's kernel needs to map its volume.
	MapTarget(ctx context.Context, mac boot.MAC) (*boot.MapTarget, error)
	// IssueBootToken returns a one-time token for mac's boot script fetched
	// from addr, or an error wrapping boot.ErrNotBound when addr is not
	// the address of that machine's boot (the script then has no token).
	IssueBootToken(mac boot.MAC, addr netip.Addr) (string, error)
	// AdmitBoot is IssueBootToken for an iPXE script, under the cap on
	// boots in flight: over it, an error wrapping boot.ErrTooManyBoots
	// whose text the node's wait script prints.
	AdmitBoot(mac boot.MAC, addr netip.Addr) (string, error)
	// NoteWaiting records that mac was served a wait-and-retry script for
	// cause (reason says why); it returns at once.
	NoteWaiting(mac boot.MAC, cause boot.WaitCause, reason string)
	// NodeFallbacks lists the other instances alive on the store, whose
	// node listeners (Node, NodePin) a node asks when this one does not
	// answer.
	NodeFallbacks(ctx context.Context) []boot.Instance
}

// overlays caches each image's overlay.cpio: the same for all its nodes.
type overlays struct {
	mu sync.Mutex
	m  map[string][]byte // image name + kernel modules path -> cpio
}

// rbdBoot reports whether plan's node boots with its volume mapped by bootd:
// it has a volume, its image is of a flavour bootd knows how to map it in,
// and bootd knows its own URL and has the helper.
func (f *Files) rbdBoot(plan *boot.Plan) bool {
	if f.layout.base == "" || f.node.layout.base == "" || f.rbd == nil || plan.Image == nil || plan.Node.Volume == "" {
		return false
	}
	switch plan.Image.Flavour {
	case boot.FlavourInitramfsTools:
		return plan.Image.Modules != ""
	case boot.FlavourAlpine:
		return true
	}
	return false
}

// nodeEndpoint is bootd's node listener: where bootd-init gets the key,
// over TLS with the certificate of this fingerprint.
type nodeEndpoint struct {
	layout      Layout
	fingerprint string
}

// ipxeLease is what a node's iPXE script adds to an initramfs-tools
// kernel's command line: the address, netmask and gateway iPXE holds, which
// iPXE expands when it runs the script. scripts/bootd (templates/initramfs)
// configures them statically on BOOTIF's NIC when ip= asks for DHCP, so the
// initramfs does not run a second DHCP exchange; the address is the one the
// boot's key release is bound to. Not on a Pi's cmdline.txt, which nothing
// expands.
const ipxeLease = "bootd.ip=${ip}:${netmask}:${gateway}"

// rbdCmdline returns what bootd adds to the kernel command line of a node
// booting from remote, with a fresh one-time token when remote is the
// address of that node's boot. It has no side effect but the token (and
// with it the boot in flight): the volume's holders are looked at only
// when the key is released. With admit (an iPXE script), the token is
// asked under the cap on boots in flight, and an error wrapping
// boot.ErrTooManyBoots is returned over it.
func (f *Files) rbdCmdline(plan *boot.Plan, remote net.IP, admit bool) (string, error) {
	mac := plan.Node.MAC
	extra := "bootd=" + f.node.layout.Node(mac)
	a, _ := netip.AddrFromSlice(remote)
	issue := f.rbd.IssueBootToken
	if admit {
		issue = f.rbd.AdmitBoot
	}
	tok, err := issue(mac, a.Unmap())
	switch {
	case err == nil:
		extra += " bootd.token=" + tok
	case !errors.Is(err, boot.ErrNotBound):
		return "", err
	}
	// BOOTIF is pxelinux's form (ARP type 01, then the MAC with hyphens),
	// which scripts/bootd (templates/initramfs) reads: not a URL.
	extra += " BOOTIF=01-" + strings.ReplaceAll(mac.String(), ":", "-")
	if plan.Image.Flavour == boot.FlavourAlpine {
		// The plain listener: files nobody needs to hide.
		extra = "ip=dhcp modloop=" + f.layout.File(mac, ModloopFile) + " alpine_repo=" + plan.Image.Repository +
			" apkovl=" + f.layout.File(mac, ApkovlFile) + " " + extra
	}
	return extra, nil
}

// rbdInitrds names the extra initrds an initramfs-tools node loads after its image's.
func (f *Files) rbdInitrds(plan *boot.Plan) []string {
	if plan.Image.Flavour != boot.FlavourInitramfsTools {
		return nil
	}
	return []string{OverlayFile, NodeCPIOFile}
}

// rbdFile returns one of the files rbdBoot adds to the node's tree, or nil.
func (f *Files) rbdFile(ctx context.Context, plan *boot.Plan, name string) (*Content, error) {
	img := plan.Image
	switch {
	case img.Flavour == boot.FlavourInitramfsTools && name == OverlayFile:
		b, err := f.imageOverlay(img)
		if err != nil {
			return nil, err
		}
		return generated(name, KindInitrd, b), nil
	case img.Flavour == boot.FlavourInitramfsTools && name == NodeCPIOFile:
		conf, err := f.nodeConf(ctx, plan)
		if err != nil {
			return nil, err
		}
		b, err := images.NodeOverlay(conf)
		if err != nil {
			return nil, err
		}
		return generated(name, KindInitrd, b), nil
	case img.Flavour == boot.FlavourAlpine && name == ApkovlFile:
		conf, err := f.nodeConf(ctx, plan)
		if err != nil {
			return nil, err
		}
		helper, err := f.helper(img.Arch)
		if err != nil {
			return nil, err
		}
		b, err := images.Apkovl(img, conf, helper)
		if err != nil {
			return nil, err
		}
		return generated(name, KindConfig, b), nil
	case img.Flavour == boot.FlavourAlpine && name == ModloopFile && img.Modloop != "":
		return f.imageFiles(name, KindInitrd, img.Modloop)
	}
	return nil, nil
}

func (f *Files) nodeConf(ctx context.Context, plan *boot.Plan) (images.NodeConf, error) {
	t, err := f.rbd.MapTarget(ctx, plan.Node.MAC)
	if err != nil {
		return images.NodeConf{}, err
	}
	c := images.NodeConf{Monitors: t.Monitors, Pool: t.Pool, Namespace: t.Namespace, Image: t.Image,
		User: t.User, Options: t.Options, Hostname: plan.Node.Hostname, Fingerprint: f.node.fingerprint}
	for _, in := range f.rbd.NodeFallbacks(ctx) {
		c.Fallbacks = append(c.Fallbacks, images.NodeEndpoint{URL: NewLayout(in.Node).Node(plan.Node.MAC), Fingerprint: in.NodePin})
	}
	return c, nil
}

// imageOverlay returns the image's overlay.cpio, built once.
func (f *Files) imageOverlay(img *boot.Image) ([]byte, error) {
	key := img.Name + "\x00" + img.Modules
	f.overlays.mu.Lock()
	defer f.overlays.mu.Unlock()
	if b, ok := f.overlays.m[key]; ok {
		return b, nil
	}
	helper, err := f.helper(img.Arch)
	if err != nil {
		return nil, err
	}
	b, err := images.InitramfsOverlay(img, helper)
	if err != nil {
		return nil, err
	}
	if f.overlays.m == nil {
		f.overlays.m = map[string][]byte{}
	}
	f.overlays.m[key] = b
	return b, nil
}

// piInitramfs returns a Pi node's initrd.img: the image's initrds and, for
// an RBD boot, its overlay and node.cpio, as one file.
func (f *Files) piInitramfs(ctx context.Context, plan *boot.Plan, name string) (*Content, error) {
	c, err := f.imageFiles(name, KindInitrd, plan.Image.Initrds...)
	if err != nil || !f.rbdBoot(plan) || plan.Image.Flavour != boot.FlavourInitramfsTools {
		return c, err
	}
	var head []byte
	for _, n := range f.rbdInitrds(plan) {
		part, err := f.rbdFile(ctx, plan, n)
		if err != nil {
			c.Close()
			return nil, err
		}
		b, _ := io.ReadAll(part)
		head = append(head, b...)
	}
	return c.prependBytes(head), nil
}

// prependBytes returns b followed by c: a generated file, since its head
// is. bootd's archives go first so that every archive starts 4-byte
// aligned, as the kernel's cpio reader needs (see nodeScript).
func (c *Content) prependBytes(b []byte) *Content {
	parts := []part{{r: bytes.NewReader(b), size: int64(len(b))}}
	if cc, ok := c.ReadSeeker.(*concat); ok {
		parts = append(parts, cc.parts...)
	} else {
		parts = append(parts, part{r: c.ReadSeeker.(*os.File), size: c.Size})
	}
	c.Size += int64(len(b))
	c.ReadSeeker = &concat{parts: parts, size: c.Size}
	c.ETag, c.Generated = "", true
	return c
}

// helperCache keeps bootd-init binaries, loaded once per architecture.
type helperCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

// helper returns the static bootd-init binary for arch (amd64, arm64).
func (f *Files) helper(arch string) ([]byte, error) {
	h := &f.helpers
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.m[arch]; ok {
		return b, nil
	}
	if f.initDir == "" {
		return nil, fmt.Errorf("no folder of bootd-init binaries configured (--init-dir)")
	}
	b, err := os.ReadFile(f.initDir + "/bootd-init-" + arch)
	if err != nil {
		return nil, fmt.Errorf("bootd-init for %s: %w (make build puts it beside bootd)", arch, err)
	}
	if h.m == nil {
		h.m = map[string][]byte{}
	}
	h.m[arch] = b
	return b, nil
}
