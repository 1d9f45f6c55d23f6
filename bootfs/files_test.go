package bootfs_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bootd/bootd/bootfs"
	"github.com/bootd/bootd/bootfs/bootfstest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// read returns all of c and closes it.
func read(t *testing.T, c *bootfs.Content) []byte {
	t.Helper()
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != c.Size {
		t.Errorf("%s: read %d bytes, Size says %d", c.Name, len(b), c.Size)
	}
	return b
}

// checkGolden compares got, the answer of call, with testdata/golden, which
// it first rewrites with got when -update is given.
func checkGolden(t *testing.T, golden string, got []byte, call string) {
	t.Helper()
	path := filepath.Join("testdata", golden)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s =\n%s\nwant (%s)\n%s", call, got, path, want)
	}
}

// TestGenerated compares every generated file with its golden copy.
func TestGenerated(t *testing.T) {
	t.Parallel()
	fx := bootfstest.New(t, bootfstest.Options{})
	tests := []struct {
		golden, mac, name string
		kind              bootfs.Kind
	}{
		{"x86.ipxe", bootfstest.X86, "boot.ipxe", bootfs.KindScript},
		{"pi.ipxe", bootfstest.Pi, "boot.ipxe", bootfs.KindScript},
		{"unknown.ipxe", bootfstest.Unknown, "boot.ipxe", bootfs.KindScript},
		{"off.ipxe", bootfstest.Off, "boot.ipxe", bootfs.KindScript},
		{"missing-image.ipxe", bootfstest.Missing, "boot.ipxe", bootfs.KindScript},
		{"dollar.ipxe", bootfstest.Dollar, "boot.ipxe", bootfs.KindScript},
		{"pi-config.txt", bootfstest.Pi, "config.txt", bootfs.KindConfig},
		{"pi-cmdline.txt", bootfstest.Pi, "cmdline.txt", bootfs.KindConfig},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			t.Parallel()
			c, err := fx.Files.Node(context.Background(), bootfstest.MAC(tt.mac), tt.name, nil)
			if err != nil {
				t.Fatalf("Node(%s, %s) = %v", tt.mac, tt.name, err)
			}
			if c.Kind != tt.kind || !c.Generated || c.ETag != "" {
				t.Errorf("Node(%s, %s): kind %s, generated %v, etag %q; want %s, generated, no etag", tt.mac, tt.name, c.Kind, c.Generated, c.ETag, tt.kind)
			}
			got := read(t, c)
			checkGolden(t, tt.golden, got, "Node("+tt.mac+", "+tt.name+")")
		})
	}
}

// TestNodeFiles fetches every file of the fixture's trees.
func TestNodeFiles(t *testing.T) {
	t.Parallel()
	fx := bootfstest.New(t, bootfstest.Options{})
	tests := []struct {
		mac, name, want string // want: a key of fx.Want, or "" for not found
		kind            bootfs.Kind
	}{
		{bootfstest.X86, "kernel", "x86/kernel", bootfs.KindKernel},
		{bootfstest.X86, "initrd/0", "x86/initrd/0", bootfs.KindInitrd},
		{bootfstest.X86, "initrd/1", "x86/initrd/1", bootfs.KindInitrd},
		{bootfstest.X86, "initrd/2", "", ""},
		{bootfstest.X86, "initrd/01", "", ""},
		{bootfstest.X86, "initrd/-1", "", ""},
		{bootfstest.X86, "initrd", "", ""},
		{bootfstest.X86, "config.txt", "", ""}, // not a Pi image
		{bootfstest.X86, "start4.elf", "", ""},
		{bootfstest.Pi, "kernel", "pi/kernel8.img", bootfs.KindKernel},
		{bootfstest.Pi, "kernel8.img", "pi/kernel8.img", bootfs.KindKernel},
		{bootfstest.Pi, "initrd.img", "pi/initrd.img", bootfs.KindInitrd},
		{bootfstest.Pi, "start4.elf", "pi/start4.elf", bootfs.KindFirmware},
		{bootfstest.Pi, "overlays/vc4-kms-v3d.dtbo", "pi/overlays/vc4-kms-v3d.dtbo", bootfs.KindFirmware},
		{bootfstest.Pi, "inside-link", "pi/inside-link", bootfs.KindFirmware},
		{bootfstest.Pi, "start.elf", "", ""},
		{bootfstest.Pi, "escape-abs", "", ""},
		{bootfstest.Pi, "escape-rel", "", ""},
		{bootfstest.Pi, "a-folder", "", ""},
		{bootfstest.Pi, "overlays", "", ""},
		{bootfstest.Off, "kernel", "", ""},
		{bootfstest.Missing, "kernel", "", ""},
		{bootfstest.Unknown, "kernel", "", ""},
	}
	for _, tt := range tests {
		c, err := fx.Files.Node(context.Background(), bootfstest.MAC(tt.mac), tt.name, nil)
		if tt.want == "" {
			if !errors.Is(err, bootfs.ErrNotFound) {
				t.Errorf("Node(%s, %q) = %v, want ErrNotFound", tt.mac, tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Node(%s, %q) = %v", tt.mac, tt.name, err)
			continue
		}
		if c.Kind != tt.kind || c.Generated || c.ModTime.IsZero() || !strings.HasPrefix(c.ETag, `"`) {
			t.Errorf("Node(%s, %q): kind %s, generated %v, modtime %v, etag %s", tt.mac, tt.name, c.Kind, c.Generated, c.ModTime, c.ETag)
		}
		if got := read(t, c); !bytes.Equal(got, fx.Want[tt.want]) {
			t.Errorf("Node(%s, %q) = %d bytes, want the %d of %s", tt.mac, tt.name, len(got), len(fx.Want[tt.want]), tt.want)
		}
	}
}

func TestConcatSeek(t *testing.T) {
	t.Parallel()
	fx := bootfstest.New(t, bootfstest.Options{})
	c, err := fx.Files.Node(context.Background(), bootfstest.MAC(bootfstest.Pi), "initrd.img", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := fx.Want["pi/initrd.img"]
	for _, off := range []int64{0, 1, 2999, 3000, 3001, 6999, 7000} {
		if _, err := c.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.LimitReader(c, 1500))
		if err != nil || !bytes.Equal(got, want[off:min(off+1500, int64(len(want)))]) {
			t.Errorf("read 1500 bytes at %d = %d bytes, %v; want bytes %d.. of the concatenation", off, len(got), err, off)
		}
	}
	if end, err := c.Seek(-10, io.SeekEnd); end != 6990 || err != nil {
		t.Errorf("Seek(-10, end) = %d, %v; want 6990", end, err)
	}
}

func TestIPXE(t *testing.T) {
	t.Parallel()
	fx := bootfstest.New(t, bootfstest.Options{})
	for name, want := range map[string]string{
		"undionly.kpxe": "ipxe/undionly.kpxe", "snponly.efi": "ipxe/snponly.efi",
		"ipxe.efi": "ipxe/ipxe.efi", // a link out of the folder, as Debian makes it
		"README":   "", "escape": "", "missing.efi": "", "../ipxe/undionly.kpxe": "",
	} {
		c, err := fx.Files.IPXE(name)
		if want == "" {
			if err == nil {
				c.Close()
				t.Errorf("IPXE(%q) = a file, want an error", name)
			}
			continue
		}
		if err != nil {
			t.Errorf("IPXE(%q) = %v", name, err)
			continue
		}
		if got := read(t, c); !bytes.Equal(got, fx.Want[want]) || c.Kind != bootfs.KindIPXE {
			t.Errorf("IPXE(%q) = %d bytes of kind %s, want %s", name, len(got), c.Kind, want)
		}
	}
}

func TestFIFODoesNotBlock(t *testing.T) {
	t.Parallel()
	fx := bootfstest.New(t, bootfstest.Options{})
	if err := syscall.Mkfifo(filepath.Join(fx.IPXEDir, "fifo.efi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.Files.IPXE("fifo.efi"); !errors.Is(err, bootfs.ErrNotFound) {
		t.Errorf("IPXE(fifo.efi) = %v, want ErrNotFound", err)
	}
}

// TestTFTPNames resolves TFTP names: iPXE binaries at the top, node trees
// under a MAC or a Pi serial, and the serial bound on first use.
func TestTFTPNames(t *testing.T) {
	t.Parallel()
	piAddr := net.IPv4(198, 18, 0, 40)
	fx := bootfstest.New(t, bootfstest.Options{PiAddr: piAddr})
	ctx := context.Background()
	other := net.IPv4(198, 18, 0, 41)

	// A serial nobody has, from an address nobody was seen at: not found, nothing bound.
	if _, _, err := fx.Files.TFTP(ctx, other, bootfstest.PiSerial+"/start4.elf"); !errors.Is(err, bootfs.ErrNotFound) {
		t.Fatalf("TFTP from an unknown address = %v, want ErrNotFound", err)
	}
	tests := []struct {
		ip              net.IP
		name, want      string
		wantOwner       string
		wantErrNotFound bool
	}{
		{piAddr, bootfstest.PiSerial + "/start4.elf", "pi/start4.elf", bootfstest.Pi, false}, // binds
		{other, bootfstest.PiSerial + "/config.txt", "", bootfstest.Pi, false},               // the serial now finds it anywhere
		{other, bootfstest.PiSerial + "/start.elf", "", bootfstest.Pi, true},
		{other, bootfstest.PiSerial + "/boot.ipxe", "", bootfstest.Pi, true},
		{other, "dc-a6-32-01-02-03/kernel8.img", "pi/kernel8.img", bootfstest.Pi, false},
		{other, "52-54-00-12-34-56/kernel", "x86/kernel", bootfstest.X86, false},
		{other, "52-54-00-12-34-56/initrd/1", "x86/initrd/1", bootfstest.X86, false},
		{piAddr, "undionly.kpxe", "ipxe/undionly.kpxe", bootfstest.Pi, false},
		{other, "undionly.kpxe", "ipxe/undionly.kpxe", "", false},
		{other, "0badcafe/start4.elf", "", "", true},
		{other, "52-54-00-99-99-99/kernel", "", "", true},
		{other, "nonsense/start4.elf", "", "", true},
	}
	for _, tt := range tests {
		c, n, err := fx.Files.TFTP(ctx, tt.ip, tt.name)
		owner := ""
		if n != nil {
			owner = n.MAC.String()
		}
		if owner != tt.wantOwner {
			t.Errorf("TFTP(%v, %q): owner %q, want %q", tt.ip, tt.name, owner, tt.wantOwner)
		}
		if tt.wantErrNotFound {
			if !errors.Is(err, bootfs.ErrNotFound) {
				t.Errorf("TFTP(%v, %q) = %v, want ErrNotFound", tt.ip, tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("TFTP(%v, %q) = %v", tt.ip, tt.name, err)
			continue
		}
		got := read(t, c)
		if tt.want != "" && !bytes.Equal(got, fx.Want[tt.want]) {
			t.Errorf("TFTP(%v, %q) = %d bytes, want %s", tt.ip, tt.name, len(got), tt.want)
		}
	}
	n, err := fx.Service.Node(ctx, bootfstest.MAC(bootfstest.Pi))
	if err != nil || n.PiSerial != bootfstest.PiSerial {
		t.Errorf("Pi node = %+v, %v; want serial %s bound", n, err, bootfstest.PiSerial)
	}
	// A second Pi serial from the same address is not bound to the same node.
	if _, _, err := fx.Files.TFTP(ctx, piAddr, "12345678/start4.elf"); !errors.Is(err, bootfs.ErrNotFound) {
		t.Errorf("TFTP of a second serial from the Pi's address = %v, want ErrNotFound", err)
	}
	if n, _ := fx.Service.Node(ctx, bootfstest.MAC(bootfstest.Pi)); n.PiSerial != bootfstest.PiSerial {
		t.Errorf("Pi serial changed to %q", n.PiSerial)
	}
}

// TestScriptFollowsNode checks that a node's script, rendered once and then
// served from the cache, changes as soon as the node does.
func TestScriptFollowsNode(t *testing.T) {
	t.Parallel()
	fx := bootfstest.New(t, bootfstest.Options{})
	ctx := context.Background()
	mac := bootfstest.MAC(bootfstest.X86)
	script := func() string {
		c, err := fx.Files.Node(ctx, mac, "boot.ipxe", nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(read(t, c))
	}
	first := script()
	if again := script(); again != first {
		t.Fatalf("the same node got two scripts:\n%s\n%s", first, again)
	}
	if _, err := fx.Service.SetNetboot(ctx, mac, false); err != nil {
		t.Fatal(err)
	}
	if off := script(); !strings.Contains(off, "\nexit\n") {
		t.Errorf("netboot off, script:\n%s", off)
	}
	if _, err := fx.Service.SetNetboot(ctx, mac, true); err != nil {
		t.Fatal(err)
	}
	if on := script(); on != first {
		t.Errorf("netboot on again, script:\n%s\nwant:\n%s", on, first)
	}
}
