// Package bootfstest builds, for tests, a bootd with a real store and image
// catalog in a temporary folder, image files on disk, and machines enrolled
// in every situation the boot files cover.
package bootfstest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/store"
	"github.com/bootd/bootd/bootfs"
	"github.com/bootd/bootd/images"
)

// The machines of a Fixture.
const (
	X86     = "52:54:00:12:34:56" // web1: debian-12, two initrds
	Pi      = "dc:a6:32:01:02:03" // pi1: the Raspberry Pi image, seen at Options.PiAddr
	Off     = "52:54:00:00:00:0f" // off1: debian-12 with netboot off
	Missing = "52:54:00:00:00:0e" // gone1: its image left the catalog
	Dollar  = "52:54:00:00:00:0d" // dollar1: an image whose command line has a $
	SB      = "52:54:00:00:00:0b" // sb1: debian-12-sb, booting x64 UEFI through shim and GRUB
	Unknown = "52:54:00:99:99:99" // not enrolled
	// PiSerial is the serial the Pi's bootloader uses as its TFTP prefix.
	PiSerial = "d1c4f2a9"
)

// Options shape a Fixture.
type Options struct {
	// KernelSize and InitrdSize are the sizes of debian-12's kernel and of
	// each of its initrds; zero means a few KiB.
	KernelSize, InitrdSize int
	// PiAddr is where DHCP saw the Pi; nil means 127.0.0.1.
	PiAddr net.IP
}

// A Fixture is a Service and Files over real files.
type Fixture struct {
	Dir     string
	Service *boot.Service
	Files   *bootfs.Files
	// IPXEDir holds undionly.kpxe, snponly.efi, ipxe.efi (a link out of the
	// folder, as Debian makes it), a README and a link "escape" to a secret.
	IPXEDir string
	// Secret is a file outside every served folder; links point at it.
	Secret string
	// Want maps names to the bytes served for them: "x86/kernel",
	// "x86/initrd/0", "x86/initrd/1", "pi/kernel8.img", "pi/initrd.img",
	// "pi/<firmware file>", "ipxe/<binary>", "sb/shimx64.efi", "sb/grubx64.efi".
	Want map[string][]byte
}

// MAC parses one of the fixture's MACs.
func MAC(s string) boot.MAC {
	m, err := boot.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// New builds a Fixture in t.TempDir().
func New(t testing.TB, o Options) *Fixture {
	t.Helper()
	if o.KernelSize == 0 {
		o.KernelSize = 5000
	}
	if o.InitrdSize == 0 {
		o.InitrdSize = 7000
	}
	if o.PiAddr == nil {
		o.PiAddr = net.IPv4(127, 0, 0, 1)
	}
	dir := t.TempDir()
	f := &Fixture{Dir: dir, IPXEDir: filepath.Join(dir, "ipxe"), Secret: filepath.Join(dir, "secret"), Want: map[string][]byte{}}
	w := func(path string, b []byte) {
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, os.WriteFile(path, b, 0o644))
	}
	link := func(target, path string) {
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, os.Symlink(target, path))
	}
	w(f.Secret, []byte("secret: never served\n"))

	deb := filepath.Join(dir, "images", "debian-12")
	f.file(w, "x86/kernel", filepath.Join(deb, "vmlinuz"), o.KernelSize)
	f.file(w, "x86/initrd/0", filepath.Join(deb, "initrd.img"), o.InitrdSize)
	f.file(w, "x86/initrd/1", filepath.Join(deb, "extra.cpio"), o.InitrdSize)

	f.file(w, "sb/shimx64.efi", filepath.Join(deb, "efi", "shimx64.efi"), 2000)
	f.file(w, "sb/grubx64.efi", filepath.Join(deb, "efi", "grubx64.efi"), 2200)

	pi := filepath.Join(dir, "images", "pi")
	f.file(w, "pi/kernel8.img", filepath.Join(pi, "Image"), 6000)
	a, b := random(3000), random(4000)
	w(filepath.Join(pi, "initrd.img"), a)
	w(filepath.Join(pi, "overlay.cpio"), b)
	f.Want["pi/initrd.img"] = append(append([]byte{}, a...), b...)
	fw := filepath.Join(pi, "firmware")
	for _, name := range []string{"start4.elf", "fixup4.dat", "bcm2711-rpi-4-b.dtb", "overlays/vc4-kms-v3d.dtbo", "overlays/overlay_map.dtb"} {
		f.file(w, "pi/"+name, filepath.Join(fw, name), 2500)
	}
	w(filepath.Join(fw, ".hidden"), []byte("hidden"))
	link(f.Secret, filepath.Join(fw, "escape-abs"))
	link("../../../secret", filepath.Join(fw, "escape-rel"))
	link("start4.elf", filepath.Join(fw, "inside-link"))
	f.Want["pi/inside-link"] = f.Want["pi/start4.elf"]
	must(t, os.MkdirAll(filepath.Join(fw, "a-folder"), 0o755))

	f.file(w, "ipxe/undionly.kpxe", filepath.Join(f.IPXEDir, "undionly.kpxe"), 3000)
	f.file(w, "ipxe/snponly.efi", filepath.Join(f.IPXEDir, "snponly.efi"), 3500)
	f.file(w, "ipxe/ipxe.efi", filepath.Join(dir, "boot", "ipxe.efi"), 4000)
	link(filepath.Join(dir, "boot", "ipxe.efi"), filepath.Join(f.IPXEDir, "ipxe.efi"))
	w(filepath.Join(f.IPXEDir, "README"), []byte("not a binary"))
	link(f.Secret, filepath.Join(f.IPXEDir, "escape"))

	cat := filepath.Join(dir, "catalog")
	w(filepath.Join(cat, "debian-12.yaml"), []byte(`name: debian-12
flavour: initramfs-tools
arch: amd64
kernel: ../images/debian-12/vmlinuz
initrds: [../images/debian-12/initrd.img, ../images/debian-12/extra.cpio]
cmdline: "console=ttyS0 root=/dev/rbd0 rw hostname={{.Hostname}} bootd.mac={{.MAC}}"
golden: {image: debian-12, snapshot: v1}
size: 20G
`))
	w(filepath.Join(cat, "debian-12-sb.yaml"), []byte(`name: debian-12-sb
flavour: initramfs-tools
arch: amd64
kernel: ../images/debian-12/vmlinuz
initrds: [../images/debian-12/initrd.img]
cmdline: "console=ttyS0 root=/dev/rbd0 rw"
golden: {image: debian-12, snapshot: v1}
size: 20G
secure_boot: {shim: ../images/debian-12/efi/shimx64.efi, grub: ../images/debian-12/efi/grubx64.efi}
`))
	w(filepath.Join(cat, "pi.yaml"), []byte(`name: pi
flavour: initramfs-tools
arch: arm64
kernel: ../images/pi/Image
initrds: [../images/pi/initrd.img, ../images/pi/overlay.cpio]
firmware: ../images/pi/firmware
cmdline: "console=serial0,115200 root=/dev/rbd0 rw hostname={{.Hostname}}"
golden: {image: pi, snapshot: v1}
size: 8G
`))
	w(filepath.Join(cat, "dollar.yaml"), []byte(`name: dollar
flavour: initramfs-tools
arch: amd64
kernel: ../images/debian-12/vmlinuz
cmdline: "console=ttyS0 x=${secret}"
golden: {image: dollar, snapshot: v1}
size: 8G
`))
	w(filepath.Join(cat, "gone.yaml"), []byte(`name: gone
flavour: initramfs-tools
arch: amd64
kernel: ../images/debian-12/vmlinuz
golden: {image: gone, snapshot: v1}
size: 8G
`))
	c, err := images.Load(cat)
	must(t, err)
	catalog := &hiding{Catalog: c, hidden: map[string]bool{}}
	db, err := store.Open(filepath.Join(dir, "bootd.db"), store.Options{})
	must(t, err)
	t.Cleanup(func() { db.Close() })
	f.Service, err = boot.NewService(boot.Config{Store: db, Catalog: catalog})
	must(t, err)
	ctx := context.Background()
	for _, e := range []struct{ mac, image, host string }{
		{X86, "debian-12", "web1"}, {Pi, "pi", "pi1"}, {Off, "debian-12", "off1"},
		{Missing, "gone", "gone1"}, {Dollar, "dollar", "dollar1"}, {SB, "debian-12-sb", "sb1"},
	} {
		_, err := f.Service.Enroll(ctx, boot.EnrollRequest{MAC: MAC(e.mac), Image: e.image, Hostname: e.host})
		must(t, err)
	}
	_, err = f.Service.SetNetboot(ctx, MAC(Off), false)
	must(t, err)
	_, err = f.Service.Discover(ctx, boot.Sighting{MAC: MAC(Pi), Arch: "rpi4", Addr: o.PiAddr})
	must(t, err)
	catalog.hidden["gone"] = true
	f.Files, err = bootfs.New(bootfs.Config{Nodes: f.Service, IPXEDir: f.IPXEDir, Retry: 7})
	must(t, err)
	return f
}

// file writes size random bytes at path and records them under name.
func (f *Fixture) file(w func(string, []byte), name, path string, size int) {
	b := random(size)
	w(path, b)
	f.Want[name] = b
}

// hiding is a catalog that can forget images, as when an image file is removed.
type hiding struct {
	*images.Catalog
	hidden map[string]bool // written before the fixture is returned, read only after
}

func (h *hiding) Image(ctx context.Context, name string) (*boot.Image, error) {
	if h.hidden[name] {
		return nil, fmt.Errorf("%w: %s", boot.ErrUnknownImage, name)
	}
	return h.Catalog.Image(ctx, name)
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
