package bootfs

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/images"
)

// TokenPlaceholder stands for the one-time boot token in an explanation:
// Explain never issues a real one.
const TokenPlaceholder = "<one-time>"

// Checks is what Explain needs of the domain to check a node's volume;
// *boot.Service satisfies it.
type Checks interface {
	Volume(ctx context.Context, mac boot.MAC) (*boot.Volume, []boot.Holder, error)
	CheckGolden(ctx context.Context, image string, protect bool) (*boot.Image, error)
	// CheckNodeKey checks that the node's key can be had, without returning it.
	CheckNodeKey(ctx context.Context, mac boot.MAC) error
	MapTarget(ctx context.Context, mac boot.MAC) (*boot.MapTarget, error)
}

// An Explanation is what each boot stage would hand a node, and a check of
// each part. It holds no secret: the token is TokenPlaceholder, the key is
// never read into it.
type Explanation struct {
	MAC      boot.MAC `json:"mac"`
	Hostname string   `json:"hostname,omitempty"`
	Image    string   `json:"image,omitempty"`
	Flavour  string   `json:"flavour,omitempty"`
	Netboot  bool     `json:"netboot"`
	// RBDBoot says whether bootd maps the node's volume at boot.
	RBDBoot bool          `json:"rbd_boot"`
	DHCP    []DHCPAnswer  `json:"dhcp"`
	Files   []ExplainFile `json:"files"`
	// Script is the node's boot.ipxe, token redacted.
	Script string `json:"script"`
	// Cmdline is the kernel command line, token redacted.
	Cmdline string `json:"cmdline,omitempty"`
	// SecureBoot describes the signed chain x64 UEFI machines boot through
	// (the image's secure_boot), and GrubConfig is the grub.cfg GRUB gets
	// over TFTP, token redacted; both empty without one.
	SecureBoot string `json:"secure_boot,omitempty"`
	GrubConfig string `json:"grub_config,omitempty"`
	// MapTarget and MapSpec are what the node's kernel maps.
	MapTarget *boot.MapTarget `json:"map_target,omitempty"`
	MapSpec   string          `json:"map_spec,omitempty"`
	Checks    []Check         `json:"checks"`
}

// A DHCPAnswer is what the DHCP server hands one firmware class.
type DHCPAnswer struct {
	Class  string `json:"class"`
	Answer string `json:"answer"`
}

// An ExplainFile is one file of the node's tree.
type ExplainFile struct {
	// Name is its name in the node's tree (TFTP: <prefix>/<name>).
	Name string `json:"name"`
	// URL is where it is fetched over HTTP (Layout.File): absolute when
	// bootd knows the URL machines reach it at, else the path alone; ""
	// for a folder of firmware files (Name <folder>/*).
	URL string `json:"url,omitempty"`
	// Source is where it comes from: an image file, or "generated".
	Source string `json:"source"`
}

// A Check is one verified part of a node's boot.
type Check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Problem string `json:"problem,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// Failed reports whether any check failed.
func (e *Explanation) Failed() bool {
	for _, c := range e.Checks {
		if !c.OK {
			return true
		}
	}
	return false
}

// A DHCPExplainer returns what bootd's DHCP server hands mac, one answer
// per firmware class. cmd/bootd builds it on the DHCP server's own policy
// (package dhcp), so that an explanation cannot disagree with what is
// served. It has no side effects.
type DHCPExplainer func(ctx context.Context, mac boot.MAC) ([]DHCPAnswer, error)

// Explain describes mac's boot without side effects: no token is issued,
// no fence checked or released, nothing recorded. chk may be nil when
// bootd has no volume backend; dhcp may be nil when bootd's DHCP settings
// are not known to the caller. An unknown mac is an error wrapping
// boot.ErrUnknown.
func (f *Files) Explain(ctx context.Context, mac boot.MAC, chk Checks, dhcp DHCPExplainer) (*Explanation, error) {
	plan, err := f.nodes.Resolve(ctx, mac)
	if err != nil {
		return nil, err
	}
	n := plan.Node
	e := &Explanation{MAC: mac, Hostname: n.Hostname, Image: n.Image, Netboot: plan.Netboot}
	if plan.Image != nil {
		e.Flavour = string(plan.Image.Flavour)
	}
	g := f.redacted()
	e.RBDBoot = plan.Image != nil && g.rbdBoot(plan)
	if e.DHCP, err = explainDHCP(ctx, plan, dhcp); err != nil {
		return nil, err
	}
	c, err := g.nodeScript(ctx, plan, nil)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(c)
	e.Script = string(b)
	if plan.Problem != "" {
		e.Checks = append(e.Checks, Check{Name: "image in catalog", Problem: plan.Problem})
		return e, nil
	}
	img := plan.Image
	e.Files = explainFiles(plan, e.RBDBoot)
	for i, file := range e.Files {
		if !strings.HasSuffix(file.Name, "*") {
			e.Files[i].URL = f.layout.File(mac, file.Name)
		}
	}
	if line, err := g.cmdline(plan); err == nil {
		if e.RBDBoot {
			extra, _ := g.rbdCmdline(plan, nil, false)
			line += " " + extra
		}
		e.Cmdline = line
	} else {
		e.Checks = append(e.Checks, Check{Name: "kernel command line", Problem: err.Error()})
	}
	e.Checks = append(e.Checks, fileCheck("kernel file", img.Kernel))
	for i, p := range img.Initrds {
		e.Checks = append(e.Checks, fileCheck("initrd "+strconv.Itoa(i)+" file", p))
	}
	if img.Modloop != "" {
		e.Checks = append(e.Checks, fileCheck("modloop file", img.Modloop))
	}
	if img.Firmware != "" {
		e.Checks = append(e.Checks, firmwareCheck(img.Firmware))
	}
	if img.Flavour == boot.FlavourInitramfsTools && img.Modules != "" {
		e.Checks = append(e.Checks, modulesCheck(img.Modules))
	}
	if sb := img.SecureBoot; sb != nil {
		e.SecureBoot = "x64 UEFI firmware gets " + ShimFile + " (" + sb.Shim + ", signed by Microsoft's UEFI CA), which loads " +
			GrubFile + " (" + sb.Grub + ", the distribution's signed network GRUB), which reads /" + grubConfigCommon +
			" (generated for the node at the asking address) and loads the kernel (it must be signed by the distribution) " +
			"and the initrds, which nobody verifies; BIOS and iPXE clients boot through iPXE as before"
		e.Checks = append(e.Checks, fileCheck("shim file", sb.Shim), fileCheck("GRUB file", sb.Grub))
		if gc, err := g.grubConfig(ctx, plan, nil, true); err == nil {
			b, _ := io.ReadAll(gc)
			e.GrubConfig = string(b)
		}
	}
	if n.Volume != "" && !e.RBDBoot {
		e.Checks = append(e.Checks, Check{Name: "rbd boot", Problem: "the node has volume " + n.Volume +
			" but bootd does not map it at boot: " + f.noRBDReason(img)})
	}
	if e.RBDBoot {
		ck := Check{Name: "bootd-init for " + img.Arch}
		if _, err := f.helper(img.Arch); err != nil {
			ck.Problem = err.Error()
		} else {
			ck.OK = true
		}
		e.Checks = append(e.Checks, ck)
	}
	if chk != nil && n.Volume != "" {
		e.Checks = append(e.Checks, f.volumeChecks(ctx, e, plan, chk)...)
	}
	return e, nil
}

// noRBDReason says why a node with a volume does not boot from it.
func (f *Files) noRBDReason(img *boot.Image) string {
	switch {
	case f.layout.base == "" || f.node.layout.base == "" || f.rbd == nil:
		return "bootd does not know its own URLs (--advertise) or has no RBD boot configured"
	case img.Flavour == boot.FlavourInitramfsTools && img.Modules == "":
		return "the image has no modules tree (modules:) to take the rbd modules from"
	}
	return "the image's flavour " + strconv.Quote(string(img.Flavour)) + " has no RBD boot"
}

// redacted returns Files with f's settings and caches of its own, whose
// RBD boot puts TokenPlaceholder on command lines. The settings are copied
// whole; those that hand out secrets are replaced here, and
// TestRedactedCoversSettings fails for a setting it has not been told is
// either safe to share or replaced.
func (f *Files) redacted() *Files {
	g := &Files{settings: f.settings}
	if f.rbd != nil {
		g.rbd = placeholderRBD{f.rbd}
	}
	return g
}

// placeholderRBD issues TokenPlaceholder instead of tokens.
type placeholderRBD struct{ RBDNodes }

func (placeholderRBD) IssueBootToken(boot.MAC, netip.Addr) (string, error) {
	return TokenPlaceholder, nil
}

// AdmitBoot takes no place among the boots in flight either.
func (placeholderRBD) AdmitBoot(boot.MAC, netip.Addr) (string, error) {
	return TokenPlaceholder, nil
}

// explainDHCP asks dhcp what the DHCP server hands the node, and adds
// where a Raspberry Pi finds its files over TFTP.
func explainDHCP(ctx context.Context, plan *boot.Plan, dhcp DHCPExplainer) ([]DHCPAnswer, error) {
	if dhcp == nil {
		return []DHCPAnswer{{Class: "all", Answer: "not known here: ask the running bootd"}}, nil
	}
	as, err := dhcp(ctx, plan.Node.MAC)
	if err != nil {
		return nil, fmt.Errorf("explain dhcp: %w", err)
	}
	for i, a := range as {
		if a.Class == "rpi4" && plan.Netboot {
			as[i].Answer += "; files under TFTP prefix " + piPrefix(plan.Node) + "/"
		}
	}
	return as, nil
}

func piPrefix(n *boot.Node) string {
	if n.PiSerial != "" {
		return n.PiSerial
	}
	return "<serial, bound at first fetch> or " + MACName(n.MAC)
}

// explainFiles lists the files of a bootable node's tree.
func explainFiles(plan *boot.Plan, rbd bool) []ExplainFile {
	img := plan.Image
	out := []ExplainFile{{Name: ScriptFile, Source: "generated"}}
	if !plan.Netboot {
		return out
	}
	gen := func(name string) { out = append(out, ExplainFile{Name: name, Source: "generated"}) }
	if rbd && img.Flavour == boot.FlavourInitramfsTools {
		out = append(out, ExplainFile{Name: OverlayFile, Source: "generated (per image)"})
		gen(NodeCPIOFile)
	}
	if rbd && img.Flavour == boot.FlavourAlpine {
		gen(ApkovlFile)
		if img.Modloop != "" {
			out = append(out, ExplainFile{Name: ModloopFile, Source: img.Modloop})
		}
	}
	out = append(out, ExplainFile{Name: KernelFile, Source: img.Kernel})
	for i, p := range img.Initrds {
		out = append(out, ExplainFile{Name: InitrdFile(i), Source: p})
	}
	if sb := img.SecureBoot; sb != nil {
		out = append(out, ExplainFile{Name: ShimFile, Source: sb.Shim}, ExplainFile{Name: GrubFile, Source: sb.Grub},
			ExplainFile{Name: GrubConfigFile, Source: "generated (TFTP: /" + grubConfigCommon + ")"})
	}
	if img.Firmware != "" {
		out = append(out, ExplainFile{Name: PiKernel, Source: img.Kernel})
		if len(img.Initrds) > 0 {
			out = append(out, ExplainFile{Name: PiInitramfs, Source: "generated (initrds joined)"})
		}
		gen(PiConfigFile)
		gen(PiCmdlineFile)
		out = append(out, piFirmwareFiles(img.Firmware)...)
	}
	return out
}

// fileCheck checks that p is a readable regular file.
func fileCheck(name, p string) Check {
	c := Check{Name: name, Detail: p}
	file, _, err := openRegular(nil, p)
	if err != nil {
		c.Problem = err.Error()
		return c
	}
	file.Close()
	c.OK = true
	return c
}

// modulesCheck checks that the modules tree has rbd and its dependencies.
func modulesCheck(dir string) Check {
	c := Check{Name: "rbd kernel modules", Detail: dir}
	mods, err := images.KernelModules(dir, images.RBDModules...)
	if err != nil {
		c.Problem = err.Error()
		return c
	}
	names := make([]string, len(mods))
	for i, m := range mods {
		names[i] = m.Name
	}
	c.OK, c.Detail = true, strings.Join(names, " ")
	return c
}

// volumeChecks checks the golden snapshot, the node's volume, its key and
// its map target, and fills e's map target.
func (f *Files) volumeChecks(ctx context.Context, e *Explanation, plan *boot.Plan, chk Checks) []Check {
	mac := plan.Node.MAC
	golden := Check{Name: "golden snapshot protected", Detail: plan.Image.Golden.String()}
	if _, err := chk.CheckGolden(ctx, plan.Image.Name, false); err != nil {
		golden.Problem = err.Error()
	} else {
		golden.OK = true
	}
	vol := Check{Name: "volume exists", Detail: plan.Node.Volume}
	if v, hs, err := chk.Volume(ctx, mac); err != nil {
		vol.Problem = err.Error()
	} else {
		vol.OK = true
		vol.Detail = fmt.Sprintf("%s, %s, clone of %s, held by %s", v.Name, boot.FormatSize(v.SizeBytes), v.Parent, boot.HolderList(hs))
	}
	key := Check{Name: "node key obtainable"}
	if err := chk.CheckNodeKey(ctx, mac); err != nil {
		key.Problem = err.Error()
	} else {
		key.OK = true
	}
	target := Check{Name: "map target"}
	if t, err := chk.MapTarget(ctx, mac); err != nil {
		target.Problem = err.Error()
	} else {
		target.OK, e.MapTarget, e.MapSpec = true, t, t.Spec()
		target.Detail = e.MapSpec
	}
	return []Check{golden, vol, key, target}
}
