package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/bootd/bootd/boot"
)

// debian is a valid initramfs-tools definition.
const debian = `name: debian
flavour: initramfs-tools
arch: amd64
kernel: /srv/debian/vmlinuz
initrds: [/srv/debian/initrd.img]
cmdline: "root=/dev/rbd0 {{.Hostname}}"
golden: {image: debian, snapshot: v1}
size: 20G
`

// alpine is a valid alpine definition.
const alpine = `name: alpine
flavour: alpine
arch: arm64
kernel: /srv/alpine/vmlinuz
modloop: /srv/alpine/modloop
firmware: /srv/rpi
repository: https://dl-cdn.alpinelinux.org/alpine/v3.20/main
golden: {pool: ssd, namespace: base, image: alpine, snapshot: v2}
size: 8G
`

// writeDir writes files into a new temporary folder and returns it.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{
		"debian.yaml":  debian,
		"alpine.yml":   alpine,
		"README.md":    "not an image",
		".hidden.yaml": "garbage: [",
		"sub/x.yaml":   "garbage: [",
	})
	c, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%q) error = %v, want nil", dir, err)
	}
	ctx := context.Background()
	got, err := c.Images(ctx)
	if err != nil {
		t.Fatalf("Images() error = %v", err)
	}
	want := []*boot.Image{
		{
			Name: "alpine", Flavour: boot.FlavourAlpine, Arch: "arm64",
			Kernel: "/srv/alpine/vmlinuz", Modloop: "/srv/alpine/modloop", Firmware: "/srv/rpi",
			Repository: "https://dl-cdn.alpinelinux.org/alpine/v3.20/main",
			Golden:     boot.GoldenRef{Pool: "ssd", Namespace: "base", Image: "alpine", Snapshot: "v2"},
			SizeBytes:  8 << 30, Source: filepath.Join(dir, "alpine.yml"),
		},
		{
			Name: "debian", Flavour: boot.FlavourInitramfsTools, Arch: "amd64",
			Kernel: "/srv/debian/vmlinuz", Initrds: []string{"/srv/debian/initrd.img"},
			Cmdline:   "root=/dev/rbd0 {{.Hostname}}",
			Golden:    boot.GoldenRef{Pool: "rbd", Namespace: "golden", Image: "debian", Snapshot: "v1"},
			SizeBytes: 20 << 30, Source: filepath.Join(dir, "debian.yaml"),
		},
	}
	if len(got) != len(want) {
		t.Fatalf("Images() = %d images, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("Images()[%d] = %+v, want %+v", i, *got[i], *want[i])
		}
	}
}

func TestLoadRelativePaths(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{"pi.yaml": `name: pi
flavour: initramfs-tools
arch: arm64
kernel: files/../files/./vmlinuz
initrds: [initrd.img, /abs//initrd2.img]
firmware: firmware/
golden: {image: pi, snapshot: v1}
size: "1073741824"
`})
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%q) error = %v, want nil", dir, err)
	}
	img, err := c.Image(context.Background(), "pi")
	if err != nil {
		t.Fatalf("Image(pi) error = %v", err)
	}
	for _, tc := range []struct{ field, got, want string }{
		{"kernel", img.Kernel, filepath.Join(abs, "files", "vmlinuz")},
		{"initrds[0]", img.Initrds[0], filepath.Join(abs, "initrd.img")},
		{"initrds[1]", img.Initrds[1], "/abs/initrd2.img"},
		{"firmware", img.Firmware, filepath.Join(abs, "firmware")},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.field, tc.got, tc.want)
		}
	}
	if img.SizeBytes != 1<<30 {
		t.Errorf("SizeBytes = %d, want %d", img.SizeBytes, 1<<30)
	}
}

// TestLoadSecureBoot: an image's secure_boot section names its shim and
// GRUB, resolved like every path; an image without one has none.
func TestLoadSecureBoot(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{"sb.yaml": `name: sb
flavour: initramfs-tools
arch: amd64
kernel: k/vmlinuz
golden: {image: sb, snapshot: v1}
size: 1G
secure_boot:
  shim: k/efi/shimx64.efi
  grub: /abs/grubx64.efi
`, "plain.yaml": "name: plain\nflavour: initramfs-tools\narch: amd64\nkernel: k\ngolden: {image: p, snapshot: v1}\nsize: 1G\n"})
	abs, _ := filepath.Abs(dir)
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := c.Image(context.Background(), "sb")
	if img == nil || img.SecureBoot == nil || img.SecureBoot.Shim != filepath.Join(abs, "k/efi/shimx64.efi") ||
		img.SecureBoot.Grub != "/abs/grubx64.efi" {
		t.Errorf("sb's secure boot = %+v, want its shim and GRUB", img)
	}
	if plain, _ := c.Image(context.Background(), "plain"); plain == nil || plain.SecureBoot != nil {
		t.Errorf("plain's secure boot = %+v, want none", plain)
	}
}

func TestLoadFSRelativePaths(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"defs/debian.yaml": {Data: []byte(strings.Replace(debian,
		"kernel: /srv/debian/vmlinuz", "kernel: boot/vmlinuz", 1))}}
	c, err := LoadFS(fsys, "defs")
	if err != nil {
		t.Fatalf("LoadFS(defs) error = %v, want nil", err)
	}
	img, err := c.Image(context.Background(), "debian")
	if err != nil {
		t.Fatalf("Image(debian) error = %v", err)
	}
	if want := filepath.Join("defs", "boot", "vmlinuz"); img.Kernel != want {
		t.Errorf("Kernel = %q, want %q", img.Kernel, want)
	}
	if want := filepath.Join("defs", "debian.yaml"); img.Source != want {
		t.Errorf("Source = %q, want %q", img.Source, want)
	}
}

func TestImageUnknown(t *testing.T) {
	t.Parallel()
	c, err := LoadFS(fstest.MapFS{"debian.yaml": {Data: []byte(debian)}}, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Catalog{c, {}} {
		img, err := c.Image(context.Background(), "nope")
		if !errors.Is(err, boot.ErrUnknownImage) || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("Image(nope) = %v, %v; want error wrapping ErrUnknownImage naming nope", img, err)
		}
	}
}

func TestImageReturnsCopies(t *testing.T) {
	t.Parallel()
	c, err := LoadFS(fstest.MapFS{"debian.yaml": {Data: []byte(debian)}}, ".")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	img, _ := c.Image(ctx, "debian")
	img.Kernel = "changed"
	img.Initrds[0] = "changed"
	all, _ := c.Images(ctx)
	all[0].Name = "changed"
	again, _ := c.Image(ctx, "debian")
	if again.Kernel != "/srv/debian/vmlinuz" || again.Initrds[0] != "/srv/debian/initrd.img" {
		t.Errorf("Image(debian) after changing a copy = %+v, want the original", *again)
	}
	if all, _ := c.Images(ctx); all[0].Name != "debian" {
		t.Errorf("Images()[0].Name after changing a copy = %q, want debian", all[0].Name)
	}
}

func TestCatalogConcurrentReads(t *testing.T) {
	t.Parallel()
	c, err := Example()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if _, err := c.Image(context.Background(), "debian-12"); err != nil {
					t.Error(err)
					return
				}
				_, _ = c.Images(context.Background())
			}
		})
	}
	wg.Wait()
}

func TestExample(t *testing.T) {
	t.Parallel()
	c, err := Example()
	if err != nil {
		t.Fatalf("Example() error = %v, want nil", err)
	}
	all, err := c.Images(context.Background())
	if err != nil {
		t.Fatalf("Images() error = %v", err)
	}
	var names []string
	for _, img := range all {
		names = append(names, img.Name)
	}
	if want := []string{"alpine-3.20", "debian-12"}; !slices.Equal(names, want) {
		t.Fatalf("Example().Images() names = %v, want %v", names, want)
	}
	for _, tc := range []struct {
		name    string
		flavour boot.Flavour
		golden  string
		size    int64
	}{
		{"alpine-3.20", boot.FlavourAlpine, "rbd/golden/alpine-3.20@v1", 8 << 30},
		{"debian-12", boot.FlavourInitramfsTools, "rbd/golden/debian-12@v1", 20 << 30},
	} {
		img, err := c.Image(context.Background(), tc.name)
		if err != nil {
			t.Errorf("Image(%q) error = %v", tc.name, err)
			continue
		}
		if img.Flavour != tc.flavour || img.Golden.String() != tc.golden || img.SizeBytes != tc.size {
			t.Errorf("Image(%q) = %s %s %d, want %s %s %d", tc.name,
				img.Flavour, img.Golden, img.SizeBytes, tc.flavour, tc.golden, tc.size)
		}
	}
}

func TestLoadNoFolder(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := Load(dir)
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, boot.ErrInvalid) {
		t.Errorf("Load(%q) error = %v, want one wrapping ErrNotExist only", dir, err)
	}
	if err != nil && !strings.Contains(err.Error(), dir) {
		t.Errorf("Load(%q) error = %v, want mention of %q", dir, err, dir)
	}
}

func TestLoadEmptyFolder(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{"notes.txt": "x"})
	_, err := Load(dir)
	if !errors.Is(err, boot.ErrInvalid) || !strings.Contains(err.Error(), "no image definitions") {
		t.Errorf("Load(%q) error = %v, want mention of %q", dir, err, "no image definitions")
	}
}
