package images

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/templates"
)

// The places the overlay puts things in the initramfs. bootd-init reads them.
const (
	overlayHelper   = "usr/bin/bootd-init"
	overlayModules  = "usr/lib/bootd/modules"
	overlayNodeConf = "etc/bootd/node.conf"
)

// InitramfsOverlay returns the per-image part of what bootd appends to an
// initramfs-tools image's stock initrd: bootd-init (helper, the static
// binary for the image's architecture), the rbd kernel modules and the
// crypto modules of ms_mode=secure (SecureModules, those the tree has) from
// the image's modules tree numbered in load order, and scripts/bootd, which init
// runs for boot=bootd. It is the same for every node of the image, so
// callers build it once per image.
func InitramfsOverlay(img *boot.Image, helper []byte) ([]byte, error) {
	if img.Flavour != boot.FlavourInitramfsTools {
		return nil, fmt.Errorf("image %s: overlay is for flavour initramfs-tools, not %s", img.Name, img.Flavour)
	}
	if img.Modules == "" {
		return nil, fmt.Errorf("image %s: no modules tree in its definition: bootd cannot add the rbd modules", img.Name)
	}
	if len(helper) == 0 {
		return nil, fmt.Errorf("image %s: no bootd-init binary for %s", img.Name, img.Arch)
	}
	mods, err := kernelModules(img.Modules, RBDModules, SecureModules)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.Name, err)
	}
	files := []CPIOFile{{Name: overlayHelper, Mode: 0o755, Data: helper}}
	for i, m := range mods {
		ext := m.Path[strings.Index(m.Path, ".ko"):]
		files = append(files, CPIOFile{Name: fmt.Sprintf("%s/%02d-%s%s", overlayModules, i+1, m.Name, ext), Mode: 0o644, Data: m.Data})
	}
	err = fs.WalkDir(templates.Initramfs, "initramfs", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templates.Initramfs.ReadFile(p)
		files = append(files, CPIOFile{Name: strings.TrimPrefix(p, "initramfs/"), Mode: 0o755, Data: b})
		return err
	})
	if err != nil {
		return nil, err
	}
	return WriteCPIO(files)
}

// NodeConf is a node's non-secret volume settings, which the per-node
// overlay hands to bootd-init. The key is not here: bootd-init fetches it
// once with the one-time token from the kernel command line.
type NodeConf struct {
	Monitors  []string // IP:port of each monitor (the kernel resolves no names)
	Pool      string
	Namespace string
	Image     string
	User      string // Ceph user id, without "client."
	Options   string // extra rbd map options, e.g. ms_mode=crc
	Hostname  string
	// Fingerprint is the SHA-256 (hex) of the certificate of bootd's node
	// listener: bootd-init pins it when it fetches the key. Not a secret.
	Fingerprint string
	// Fallbacks are the node listeners of the other bootd instances on the
	// same store, which bootd-init asks when the one on its command line
	// does not answer.
	Fallbacks []NodeEndpoint
}

// A NodeEndpoint is a bootd instance's node URL for this node and the
// SHA-256 (hex) of its node listener's certificate.
type NodeEndpoint struct {
	URL, Fingerprint string
}

// NodeOverlay returns the per-node part: etc/bootd/node.conf. It is small
// and built per request, from memory.
func NodeOverlay(c NodeConf) ([]byte, error) {
	conf, err := nodeConf(c)
	if err != nil {
		return nil, err
	}
	return WriteCPIO([]CPIOFile{{Name: overlayNodeConf, Mode: 0o644, Data: conf}})
}
