package images

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/bootd/bootd/boot"
)

// Defaults for the golden: section.
const (
	defaultPool      = "rbd"
	defaultNamespace = "golden"
)

// validName is the form of an image name: short, lower case, safe in URLs,
// file names and RBD names.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// checker collects the problems of one image file.
type checker struct {
	file string
	base string // folder relative paths resolve against
	errs []error
}

func (c *checker) fail(field, format string, args ...any) {
	c.errs = append(c.errs, problem(c.file, field, format, args...))
}

// check turns def into an image, or reports every problem it has.
func check(def *definition, file, base string) (*boot.Image, []error) {
	c := &checker{file: file, base: base}
	img := &boot.Image{
		Name:    def.Name,
		Flavour: boot.Flavour(def.Flavour),
		Arch:    def.Arch,
		Cmdline: def.Cmdline,
	}
	c.name(def.Name)
	c.kind(def)
	img.Kernel = c.path("kernel", def.Kernel, true)
	for i, p := range def.Initrds {
		img.Initrds = append(img.Initrds, c.path(fmt.Sprintf("initrds[%d]", i), p, true))
	}
	img.Modloop = c.path("modloop", def.Modloop, false)
	img.Firmware = c.path("firmware", def.Firmware, false)
	img.Modules = c.path("modules", def.Modules, false)
	img.Repository = def.Repository
	if sb := def.SecureBoot; sb != nil {
		if def.Arch != "amd64" {
			c.fail("secure_boot", "only for arch amd64 (shim and GRUB for x64 UEFI)")
		}
		img.SecureBoot = &boot.SecureBoot{Shim: c.path("secure_boot.shim", sb.Shim, true),
			Grub: c.path("secure_boot.grub", sb.Grub, true)}
	}
	c.cmdline(def.Name, def.Cmdline)
	img.Golden = c.golden(def.Golden)
	if def.Size == "" {
		c.fail("size", "required, like 20G")
	} else if n, err := boot.ParseSize(def.Size); err != nil {
		c.fail("size", "%w", err)
	} else {
		img.SizeBytes = n
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return img, nil
}

func (c *checker) name(name string) {
	switch {
	case name == "":
		c.fail("name", "required")
	case !validName.MatchString(name):
		c.fail("name", "%q is not a valid name: want 1 to 63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", name)
	}
}

// kind checks flavour and arch, and the fields only some of them allow.
func (c *checker) kind(def *definition) {
	switch boot.Flavour(def.Flavour) {
	case boot.FlavourAlpine:
		c.repository(def.Repository)
	case boot.FlavourInitramfsTools:
		if def.Modloop != "" {
			c.fail("modloop", "only for flavour alpine")
		}
		if def.Repository != "" {
			c.fail("repository", "only for flavour alpine")
		}
	case "":
		c.fail("flavour", "required: one of alpine, initramfs-tools")
	default:
		c.fail("flavour", "%q is not one of alpine, initramfs-tools", def.Flavour)
	}
	switch def.Arch {
	case "amd64":
		if def.Firmware != "" {
			c.fail("firmware", "only for arch arm64")
		}
	case "arm64":
	case "":
		c.fail("arch", "required: one of amd64, arm64")
	default:
		c.fail("arch", "%q is not one of amd64, arm64", def.Arch)
	}
}

func (c *checker) repository(s string) {
	if s == "" {
		c.fail("repository", "required for flavour alpine: the package repository URL, like https://dl-cdn.alpinelinux.org/alpine/v3.20/main")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.fail("repository", "%q is not an http or https URL", s)
	}
}

// path checks and resolves a file path; "" is refused when required.
func (c *checker) path(field, p string, required bool) string {
	switch {
	case p == "":
		if required {
			c.fail(field, "required")
		}
		return ""
	case strings.ContainsRune(p, 0):
		c.fail(field, "%q contains a NUL byte", p)
		return ""
	case filepath.IsAbs(p):
		return filepath.Clean(p)
	default:
		return filepath.Join(c.base, p)
	}
}

func (c *checker) cmdline(name, s string) {
	if _, err := template.New(name).Parse(s); err != nil {
		c.fail("cmdline", "%w", err)
	}
}

// golden checks the golden: section and fills in its defaults.
func (c *checker) golden(g golden) boot.GoldenRef {
	ref := boot.GoldenRef{Pool: g.Pool, Namespace: g.Namespace, Image: g.Image, Snapshot: g.Snapshot}
	if ref.Pool == "" {
		ref.Pool = defaultPool
	}
	if ref.Namespace == "" {
		ref.Namespace = defaultNamespace
	}
	for _, f := range []struct{ field, value string }{
		{"golden.pool", ref.Pool},
		{"golden.namespace", ref.Namespace},
		{"golden.image", ref.Image},
		{"golden.snapshot", ref.Snapshot},
	} {
		switch {
		case f.value == "":
			c.fail(f.field, "required")
		case strings.ContainsFunc(f.value, badRBDRune):
			c.fail(f.field, "%q may not contain '/', '@', spaces or control characters", f.value)
		}
	}
	return ref
}

// badRBDRune reports runes that would make pool/namespace/image@snapshot
// ambiguous or unsafe to pass on.
func badRBDRune(r rune) bool {
	return r == '/' || r == '@' || r <= ' ' || r == 0x7f
}
