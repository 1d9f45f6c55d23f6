package boot

import "context"

// Flavour is how an image boots and where its root lives.
type Flavour string

// The image flavours bootd knows.
const (
	// FlavourAlpine is Alpine Linux "extended", diskless in RAM with its RBD volume for data.
	FlavourAlpine Flavour = "alpine"
	// FlavourInitramfsTools is Debian/Ubuntu with root on the RBD volume.
	FlavourInitramfsTools Flavour = "initramfs-tools"
)

// An Image is one entry of the image catalog: what a node boots.
// Paths are absolute (the catalog resolves them against its folder).
type Image struct {
	Name    string  `json:"name"`
	Flavour Flavour `json:"flavour"`
	// Arch is amd64 or arm64.
	Arch    string   `json:"arch"`
	Kernel  string   `json:"kernel"`
	Initrds []string `json:"initrds,omitempty"`
	// Cmdline is a text/template for the kernel command line.
	Cmdline string `json:"cmdline,omitempty"`
	// Modloop and Repository are Alpine's modloop file and package repository URL.
	Modloop    string `json:"modloop,omitempty"`
	Repository string `json:"repository,omitempty"`
	// Firmware is the Raspberry Pi firmware folder (start4.elf, fixup4.dat, device trees).
	Firmware string `json:"firmware,omitempty"`
	// Modules is the kernel's modules tree (lib/modules/<version>, with
	// modules.dep), from which bootd takes the rbd modules it adds at boot.
	Modules string `json:"modules,omitempty"`
	// Golden names the RBD image and snapshot that node volumes are cloned from.
	Golden GoldenRef `json:"golden"`
	// SizeBytes is the default root volume size.
	SizeBytes int64 `json:"size_bytes"`
	// Source is the file the image was read from.
	Source string `json:"source,omitempty"`
	// SecureBoot, when set, boots the image's x64 UEFI machines through
	// the distribution's signed shim and GRUB instead of iPXE, so that
	// they boot with UEFI Secure Boot on (amd64 images only).
	SecureBoot *SecureBoot `json:"secure_boot,omitempty"`
}

// SecureBoot names the signed first stages of a Secure Boot chain: shim,
// signed with the key firmware trusts (Microsoft's UEFI CA), and the
// network GRUB it loads, signed with the distribution's key shim trusts.
// GRUB then loads the image's kernel, which must be signed by it too.
type SecureBoot struct {
	Shim string `json:"shim"` // e.g. Debian's shimx64.efi.signed
	Grub string `json:"grub"` // e.g. Debian's grubnetx64.efi.signed
}

// GoldenRef names a golden RBD snapshot: pool/namespace/image@snapshot.
type GoldenRef struct {
	Pool      string `json:"pool,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Image     string `json:"image"`
	Snapshot  string `json:"snapshot"`
}

// String returns the rbd CLI spelling pool/namespace/image@snapshot.
func (g GoldenRef) String() string {
	s := g.Image + "@" + g.Snapshot
	if g.Namespace != "" {
		s = g.Namespace + "/" + s
	}
	if g.Pool != "" {
		s = g.Pool + "/" + s
	}
	return s
}

// A Catalog knows the images nodes can boot. It is read concurrently.
type Catalog interface {
	// Image returns the image called name, or an error wrapping ErrUnknownImage.
	Image(ctx context.Context, name string) (*Image, error)
	// Images returns every image, sorted by name.
	Images(ctx context.Context) ([]*Image, error)
}
