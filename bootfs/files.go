package bootfs

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"text/template"

	"github.com/bootd/bootd/boot"
)

// Nodes is what Files needs of the domain; *boot.Service satisfies it.
// Its methods are called concurrently, once or twice per request.
type Nodes interface {
	// Resolve returns mac's plan, or an error wrapping boot.ErrUnknown.
	Resolve(ctx context.Context, mac boot.MAC) (*boot.Plan, error)
	// NodeByAddr returns the node last seen at ip, or an error wrapping boot.ErrUnknown.
	NodeByAddr(ctx context.Context, ip net.IP) (*boot.Node, error)
	// NodeBySerial returns the node bound to a Pi serial, or an error wrapping boot.ErrUnknown.
	NodeBySerial(ctx context.Context, serial string) (*boot.Node, error)
	// BindPiSerial binds a Pi serial to the node mac.
	BindPiSerial(ctx context.Context, mac boot.MAC, serial string) (*boot.Node, error)
}

// Config configures Files.
type Config struct {
	// Nodes answers which machine is which; required.
	Nodes Nodes
	// IPXEDir is the folder of iPXE binaries (Debian: /usr/lib/ipxe); "" serves none.
	IPXEDir string
	// Retry is how many seconds a waiting iPXE script sleeps before asking
	// again (unknown machine, or one that cannot boot now); zero means 10.
	Retry int
	// BootURL is bootd's HTTP base URL as machines reach it
	// (http://198.18.0.1:8080); "" leaves the RBD boot out.
	BootURL string
	// NodeURL is the base URL of bootd's node listener as machines reach it
	// (https://198.18.0.1:8443), where bootd-init fetches the node's key over
	// TLS; "" leaves the RBD boot out.
	NodeURL string
	// NodeFingerprint is the SHA-256 of the node listener's certificate, in
	// hex; each node's overlay carries it and bootd-init pins it.
	NodeFingerprint string
	// RBD is what the RBD boot needs of the domain; nil leaves it out.
	RBD RBDNodes
	// InitDir is the folder of the bootd-init binaries (bootd-init-amd64, -arm64).
	InitDir string
	// Logger receives missing image files (Warn), serial bindings (Info)
	// and refused names (Debug); nil discards them.
	Logger *slog.Logger
}

// Files finds the files machines fetch. It is safe for concurrent use.
type Files struct {
	settings
	cmdlines sync.Map // image cmdline text -> *template.Template
	overlays overlays
	helpers  helperCache
	scripts  scriptCache // rendered scripts without tokens (scriptcache.go)
}

// settings are what New fixes: Files' caches are built from them. Explain
// renders with a copy of them whole (redacted), in which only the ones
// that hand out secrets are replaced; TestRedactedCoversSettings fails
// when a field is not classified there.
type settings struct {
	nodes   Nodes
	ipxeDir string
	retry   int
	log     *slog.Logger
	tmpl    *template.Template
	layout  Layout // the plain listener's URLs; base "" leaves the RBD boot out
	node    nodeEndpoint
	rbd     RBDNodes
	initDir string // the bootd-init binaries (helper)
}

// New returns Files for cfg, or an error when cfg lacks Nodes.
func New(cfg Config) (*Files, error) {
	if cfg.Nodes == nil {
		return nil, errors.New("bootfs: Config needs Nodes")
	}
	t, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	f := &Files{settings: settings{nodes: cfg.Nodes, ipxeDir: cfg.IPXEDir, retry: cfg.Retry, log: cfg.Logger, tmpl: t,
		layout: NewLayout(cfg.BootURL), rbd: cfg.RBD, initDir: cfg.InitDir,
		node: nodeEndpoint{layout: NewLayout(cfg.NodeURL), fingerprint: cfg.NodeFingerprint}}}
	if f.retry <= 0 {
		f.retry = 10
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f, nil
}

// ipxeName matches the names of iPXE binaries served from the iPXE folder.
var ipxeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*\.(kpxe|kkpxe|kkkpxe|pxe|efi|lkrn)$`)

// IPXE returns an iPXE binary: a top-level file of the iPXE folder whose
// name ends in .kpxe, .kkpxe, .kkkpxe, .pxe, .efi or .lkrn.
func (f *Files) IPXE(name string) (*Content, error) {
	if err := CheckName(name); err != nil {
		f.log.Debug("file name refused", "file", name, "err", err)
		return nil, err
	}
	if f.ipxeDir == "" || !ipxeName.MatchString(name) {
		return nil, notFound("%s", name)
	}
	file, st, err := openRegular(nil, filepath.Join(f.ipxeDir, name))
	if err != nil {
		f.log.Debug("ipxe binary not served", "file", name, "err", err)
		return nil, notFound("%s", name)
	}
	return static(name, KindIPXE, []*os.File{file}, []os.FileInfo{st}), nil
}

// Node returns the file name of mac's tree (see the package comment) for
// a client at remote. An unknown machine has only boot.ipxe, a script
// saying so; a machine with netboot off or that cannot boot has only its
// boot.ipxe too.
func (f *Files) Node(ctx context.Context, mac boot.MAC, name string, remote net.IP) (*Content, error) {
	if err := CheckName(name); err != nil {
		f.log.Debug("file name refused", "mac", mac.String(), "file", name, "err", err)
		return nil, err
	}
	plan, err := f.nodes.Resolve(ctx, mac)
	if errors.Is(err, boot.ErrUnknown) {
		if name == ScriptFile {
			return f.script(name, "unknown.ipxe", scriptData{MAC: mac.String()})
		}
		return nil, notFound("%s: machine %s is not enrolled", name, mac)
	}
	if err != nil {
		return nil, err
	}
	var c *Content
	switch {
	case name == ScriptFile:
		c, err = f.nodeScript(ctx, plan, remote)
	case !plan.Netboot || plan.Image == nil:
		return nil, notFound("%s: machine %s does not boot from the network now", name, mac)
	default:
		c, err = f.imageFile(ctx, plan, name, remote)
	}
	if err != nil {
		return nil, err
	}
	c.Node, c.SecureBoot = plan.Node, secureBoot(plan)
	return c, nil
}

// imageFile returns a file of a bootable node's tree other than its script.
func (f *Files) imageFile(ctx context.Context, plan *boot.Plan, name string, remote net.IP) (*Content, error) {
	img := plan.Image
	pi := img.Firmware != ""
	if f.rbdBoot(plan) {
		if c, err := f.rbdFile(ctx, plan, name); c != nil || err != nil {
			return c, err
		}
	}
	if sb := img.SecureBoot; sb != nil {
		switch name {
		case ShimFile:
			return f.imageFiles(name, KindLoader, sb.Shim)
		case GrubFile:
			return f.imageFiles(name, KindLoader, sb.Grub)
		case GrubConfigFile: // over HTTP; TFTP asks by GRUB's names (TFTP, GrubConfig)
			return f.grubConfig(ctx, plan, remote, false)
		}
	}
	switch {
	case name == KernelFile, pi && name == PiKernel:
		return f.imageFiles(name, KindKernel, img.Kernel)
	case strings.HasPrefix(name, initrdFolder):
		n, ok := initrdIndex(name)
		if !ok || n >= len(img.Initrds) {
			return nil, notFound("%s", name)
		}
		return f.imageFiles(name, KindInitrd, img.Initrds[n])
	case pi && name == PiInitramfs && len(img.Initrds) > 0:
		return f.piInitramfs(ctx, plan, name)
	case pi && name == PiConfigFile:
		return f.piConfig(plan)
	case pi && name == PiCmdlineFile:
		line, err := f.cmdline(plan)
		if err != nil {
			return nil, err
		}
		if f.rbdBoot(plan) {
			// Not under the cap: a Pi's firmware runs no script that could
			// wait, so it boots and waits at its key while Ceph is down.
			extra, err := f.rbdCmdline(plan, remote, false)
			if err != nil {
				return nil, err
			}
			line += " " + extra
		}
		return generated(name, KindConfig, []byte(line+"\n")), nil
	case pi:
		return f.firmware(img, name)
	}
	return nil, notFound("%s", name)
}

// imageFiles opens the image files at paths (from the catalog) as one Content.
func (f *Files) imageFiles(name string, kind Kind, paths ...string) (*Content, error) {
	files := make([]*os.File, 0, len(paths))
	infos := make([]os.FileInfo, 0, len(paths))
	for _, p := range paths {
		file, st, err := openRegular(nil, p)
		if err != nil {
			for _, o := range files {
				o.Close()
			}
			f.log.Warn("image file cannot be served", "file", name, "err", err)
			return nil, notFound("%s", name)
		}
		files, infos = append(files, file), append(infos, st)
	}
	return static(name, kind, files, infos), nil
}

// firmware opens name inside the image's firmware folder.
func (f *Files) firmware(img *boot.Image, name string) (*Content, error) {
	root, err := os.OpenRoot(img.Firmware)
	if err != nil {
		f.log.Warn("firmware folder cannot be opened", "image", img.Name, "err", err)
		return nil, notFound("%s", name)
	}
	defer root.Close()
	file, st, err := openRegular(root, name)
	if err != nil {
		f.log.Debug("firmware file not served", "image", img.Name, "file", name, "err", err)
		return nil, notFound("%s", name)
	}
	return static(name, KindFirmware, []*os.File{file}, []os.FileInfo{st}), nil
}

// TFTP returns the file a TFTP client at remote asks for, and the node it
// concerns (nil when none is known; it may be set with an error). A
// leading slash is dropped. A name of GRUB's folder is a node's grub.cfg
// (secureboot.go). A name without a slash is an iPXE binary, asked for by the node last seen at
// remote. Otherwise its first element is a prefix: a MAC address
// (aa-bb-cc-dd-ee-ff) or a Raspberry Pi serial (eight hex digits), and the
// rest names a file in that node's tree. A serial no node has is bound to
// the node last seen at remote, so nobody types serial numbers.
func (f *Files) TFTP(ctx context.Context, remote net.IP, name string) (*Content, *boot.Node, error) {
	// GRUB (and pxelinux) ask for absolute names; the tree has one root,
	// so one leading slash changes nothing.
	name = strings.TrimPrefix(name, "/")
	if err := CheckName(name); err != nil {
		f.log.Debug("file name refused", "ip", remote.String(), "file", name, "err", err)
		return nil, f.byAddr(ctx, remote), err
	}
	if c, node, ok, err := f.GrubConfig(ctx, name, remote, true); ok {
		return c, node, err
	}
	prefix, rest, ok := splitTFTP(name)
	if !ok {
		c, err := f.IPXE(name)
		return c, f.byAddr(ctx, remote), err
	}
	node, err := f.prefixNode(ctx, remote, prefix)
	if err != nil {
		return nil, f.byAddr(ctx, remote), err
	}
	c, err := f.Node(ctx, node.MAC, rest, remote)
	if err == nil && c.Kind == KindScript {
		c.Close()
		err = notFound("%s", name) // TFTP clients have no use for iPXE scripts
	}
	return c, node, err
}

// prefixNode finds the node a TFTP prefix names.
func (f *Files) prefixNode(ctx context.Context, remote net.IP, prefix string) (*boot.Node, error) {
	if len(prefix) == 17 {
		if mac, err := boot.ParseMAC(prefix); err == nil {
			plan, err := f.nodes.Resolve(ctx, mac)
			if err != nil {
				return nil, notFound("%s/: %v", prefix, err)
			}
			return plan.Node, nil
		}
	}
	if !boot.ValidPiSerial(prefix) {
		return nil, notFound("%s/: neither a MAC address nor a Raspberry Pi serial", prefix)
	}
	n, err := f.nodes.NodeBySerial(ctx, prefix)
	if err == nil {
		return n, nil
	}
	if !errors.Is(err, boot.ErrUnknown) {
		return nil, err
	}
	n, err = f.nodes.NodeByAddr(ctx, remote)
	if err != nil {
		return nil, notFound("%s/: no machine with this serial, and none seen at %s", prefix, remote)
	}
	if n, err = f.nodes.BindPiSerial(ctx, n.MAC, prefix); err != nil {
		f.log.Warn("raspberry pi serial not bound", "serial", prefix, "ip", remote.String(), "err", err)
		return nil, notFound("%s/: %v", prefix, err)
	}
	return n, nil
}

// byAddr returns the node last seen at ip, or nil.
func (f *Files) byAddr(ctx context.Context, ip net.IP) *boot.Node {
	n, err := f.nodes.NodeByAddr(ctx, ip)
	if err != nil {
		return nil
	}
	return n
}
