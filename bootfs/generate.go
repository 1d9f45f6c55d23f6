package bootfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"text/template"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/templates"
)

// parseTemplates reads the boot templates.
func parseTemplates() (*template.Template, error) {
	t, err := template.New("boot").Option("missingkey=error").ParseFS(templates.Boot, "boot/*")
	if err != nil {
		return nil, fmt.Errorf("bootfs: boot templates: %w", err)
	}
	return t, nil
}

// scriptData fills the boot templates.
type scriptData struct {
	MAC, Hostname, Image string
	// Cmdline is the kernel command line without initrd= arguments.
	Cmdline string
	// Initrds are the iPXE script's initrds: the name iPXE gives each and
	// its URL relative to the script.
	Initrds []initrdRef
	// Kernel is the kernel's name in the node's tree (KernelFile for
	// iPXE, PiKernel for config.txt); Initramfs is config.txt's initrd.
	Kernel, Initramfs string
	// Script and CmdlineFile are the names of the iPXE script and of a
	// Pi's cmdline.txt (layout.go), set by render.
	Script, CmdlineFile string
	Problem             string
	Retry               int
	// Jitter is Retry plus a random share of it, for wait.ipxe.
	Jitter int
}

type initrdRef struct{ Name, Path string }

// render runs the template called name.
func (f *Files) render(name string, d scriptData) ([]byte, error) {
	d.Retry, d.Script, d.CmdlineFile = f.retry, ScriptFile, PiCmdlineFile
	if d.Jitter == 0 {
		d.Jitter = f.retry + rand.IntN(f.retry+1)
	}
	var b bytes.Buffer
	if err := f.tmpl.ExecuteTemplate(&b, name, d); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// script renders an iPXE script template as the node's boot.ipxe.
func (f *Files) script(name, tmpl string, d scriptData) (*Content, error) {
	b, err := f.render(tmpl, d)
	if err != nil {
		return nil, err
	}
	return generated(name, KindScript, b), nil
}

// nodeScript returns an enrolled node's boot.ipxe: exit when netboot is
// off, a waiting script when it cannot boot, else one that boots its image.
// A script without a one-time token is rendered once per distinct input and
// then served from the cache (scriptcache.go).
func (f *Files) nodeScript(ctx context.Context, plan *boot.Plan, remote net.IP) (*Content, error) {
	if plan.Netboot && plan.Wait != "" {
		return f.waitScript(plan.Node, boot.WaitCeph, plan.Wait)
	}
	if plan.Netboot && plan.Problem == "" && f.rbdBoot(plan) {
		tmpl, d, err := f.nodeScriptData(ctx, plan, remote)
		if errors.Is(err, boot.ErrTooManyBoots) {
			return f.waitScript(plan.Node, boot.WaitBusy, err.Error())
		}
		return f.script(ScriptFile, tmpl, d) // holds a one-time token
	}
	in := inputsOf(plan)
	key := in.key()
	if b, ok := f.scripts.get(key); ok && key != "" {
		return generated(ScriptFile, KindScript, b), nil
	}
	tmpl, d, _ := f.nodeScriptData(ctx, in.plan(), remote) // from the key's inputs alone: no RBD boot
	b, err := f.render(tmpl, d)
	if err != nil {
		return nil, err
	}
	if key != "" {
		f.scripts.put(key, b)
	}
	return generated(ScriptFile, KindScript, b), nil
}

// busyWait is the shortest sleep, in seconds, of a node told to wait because
// too many boots are in flight; it sleeps up to three times that. Places
// come back as fast as keys go out (tens a second in a storm: bench-storm),
// so the wait is short, where Ceph's (Retry, 10 s) waits for a cluster to
// recover. A rack re-asking every few seconds costs bootd a script each,
// which touches no disk and no Ceph.
const busyWait = 2

// waitScript is the wait-and-retry boot.ipxe of a node that must wait:
// Ceph cannot take it (plan.Wait) or too many boots are in flight. It says
// why, sleeps Retry seconds and a random share more (so that a rack told
// to wait does not come back in one instant), and asks again. It is never
// cached: each has its own sleep.
func (f *Files) waitScript(n *boot.Node, cause boot.WaitCause, reason string) (*Content, error) {
	d := scriptData{MAC: n.MAC.String(), Hostname: n.Hostname, Image: n.Image, Problem: boot.Printable(strings.ReplaceAll(reason, "$", ""))} // iPXE expands ${...}
	if cause == boot.WaitBusy {
		d.Jitter = busyWait + rand.IntN(2*busyWait+1)
	}
	b, err := f.render("wait.ipxe", d)
	if err != nil {
		return nil, err
	}
	if f.rbd != nil {
		f.rbd.NoteWaiting(n.MAC, cause, reason)
	}
	return generated(ScriptFile, KindScript, b), nil
}

// nodeScriptData works out the template and data of a node's boot.ipxe.
// Its error is only ever one wrapping boot.ErrTooManyBoots: the node must
// wait (other problems are the script's).
func (f *Files) nodeScriptData(ctx context.Context, plan *boot.Plan, remote net.IP) (string, scriptData, error) {
	n := plan.Node
	d := scriptData{MAC: n.MAC.String(), Hostname: n.Hostname, Image: n.Image, Kernel: KernelFile}
	if !plan.Netboot {
		return "off.ipxe", d, nil
	}
	problem := plan.Problem
	if problem == "" {
		cmdline, err := f.cmdline(plan)
		if err != nil {
			problem = err.Error()
		}
		if strings.Contains(cmdline, "$") {
			problem = "the image's kernel command line has a dollar sign, which an iPXE script would expand"
		}
		if problem == "" && f.rbdBoot(plan) {
			extra, err := f.rbdCmdline(plan, remote, true)
			if errors.Is(err, boot.ErrTooManyBoots) {
				return "", d, err
			}
			if err != nil {
				problem = err.Error()
			}
			cmdline += " " + extra
			if plan.Image.Flavour == boot.FlavourInitramfsTools {
				// iPXE expands its lease here; scripts/bootd (templates/initramfs)
				// configures it instead of a second DHCP exchange.
				cmdline += " " + ipxeLease
			}
		}
		d.Cmdline = strings.TrimSpace(cmdline)
	}
	if problem != "" {
		d.Problem = boot.Printable(problem)
		return "problem.ipxe", d, nil
	}
	// bootd's archives go first: they are whole 512-byte blocks, so every
	// archive after them starts aligned, as the kernel's cpio reader needs.
	// (A distribution's compressed initrd may end at any byte, and UEFI's
	// kernel stub loads initrds back to back without padding.)
	if f.rbdBoot(plan) {
		for _, n := range f.rbdInitrds(plan) {
			d.Initrds = append(d.Initrds, initrdRef{Name: n, Path: n})
		}
	}
	for i := range plan.Image.Initrds {
		d.Initrds = append(d.Initrds, initrdRef{Name: "initrd" + strconv.Itoa(i), Path: InitrdFile(i)})
	}
	return "node.ipxe", d, nil
}

// piConfig returns a Raspberry Pi node's config.txt.
func (f *Files) piConfig(plan *boot.Plan) (*Content, error) {
	n := plan.Node
	d := scriptData{MAC: n.MAC.String(), Hostname: n.Hostname, Image: n.Image, Kernel: PiKernel}
	if len(plan.Image.Initrds) > 0 {
		d.Initramfs = PiInitramfs
	}
	b, err := f.render("config.txt", d)
	if err != nil {
		return nil, err
	}
	return generated(PiConfigFile, KindConfig, b), nil
}

// cmdlineData fills an image's command line template (see package images).
type cmdlineData struct {
	Hostname, MAC, Image string
}

// cmdline renders the node's kernel command line from its image's template.
// The result is one line of printable ASCII; anything else is an error.
func (f *Files) cmdline(plan *boot.Plan) (string, error) {
	text := plan.Image.Cmdline
	t, ok := f.cmdlines.Load(text)
	if !ok {
		parsed, err := template.New("cmdline").Option("missingkey=error").Parse(text)
		if err != nil {
			return "", fmt.Errorf("the image's kernel command line does not parse: %w", err)
		}
		t, _ = f.cmdlines.LoadOrStore(text, parsed)
	}
	var b strings.Builder
	n := plan.Node
	if err := t.(*template.Template).Execute(&b, cmdlineData{Hostname: n.Hostname, MAC: n.MAC.String(), Image: n.Image}); err != nil {
		return "", fmt.Errorf("the image's kernel command line does not render: %w", err)
	}
	line := strings.Join(strings.Fields(b.String()), " ")
	if strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
		return "", fmt.Errorf("the image's kernel command line has bytes other than printable ASCII: %q", line)
	}
	return line, nil
}
