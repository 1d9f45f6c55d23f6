package images

import (
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/templates"
)

// rbdModulesDep is a modules.dep of the rbd modules and what they need.
const rbdModulesDep = "kernel/drivers/block/rbd.ko: kernel/net/ceph/libceph.ko kernel/lib/libcrc32c.ko\n" +
	"kernel/net/ceph/libceph.ko: kernel/lib/libcrc32c.ko\nkernel/lib/libcrc32c.ko:\nkernel/crypto/crc32c_generic.ko:\n"

// overlayOf writes a modules tree with the rbd modules, and the lines and
// files of extra, and returns the entries of its image's overlay.
func overlayOf(t *testing.T, extraDep string, extra map[string]string) []CPIOFile {
	t.Helper()
	files := map[string]string{
		"modules.dep":                     rbdModulesDep + extraDep,
		"kernel/drivers/block/rbd.ko":     "RBD",
		"kernel/net/ceph/libceph.ko":      "LIBCEPH",
		"kernel/lib/libcrc32c.ko":         "LIBCRC",
		"kernel/crypto/crc32c_generic.ko": "CRC",
	}
	maps.Copy(files, extra)
	img := &boot.Image{Name: "deb", Flavour: boot.FlavourInitramfsTools, Arch: "amd64", Modules: writeDir(t, files)}
	b, err := InitramfsOverlay(img, []byte("ELF"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ReadCPIO(b)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestInitramfsOverlayContents(t *testing.T) {
	t.Parallel()
	entries := overlayOf(t, "", nil)
	script, _ := templates.Initramfs.ReadFile("initramfs/scripts/bootd")
	want := map[string]struct {
		mode uint32
		data string
	}{
		"usr/bin/bootd-init":                         {0o755, "ELF"},
		"usr/lib/bootd/modules/01-crc32c_generic.ko": {0o644, "CRC"},
		"usr/lib/bootd/modules/02-libcrc32c.ko":      {0o644, "LIBCRC"},
		"usr/lib/bootd/modules/03-libceph.ko":        {0o644, "LIBCEPH"},
		"usr/lib/bootd/modules/04-rbd.ko":            {0o644, "RBD"},
		"scripts/bootd":                              {0o755, string(script)},
	}
	got := map[string]struct {
		mode uint32
		data string
	}{}
	for _, e := range entries {
		if !e.Dir {
			got[e.Name] = struct {
				mode uint32
				data string
			}{uint32(e.Mode), string(e.Data)}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("overlay files =\n%v\nwant\n%v", got, want)
	}
	if _, err := InitramfsOverlay(&boot.Image{Name: "x", Flavour: boot.FlavourInitramfsTools}, []byte("ELF")); err == nil {
		t.Errorf("overlay of an image without a modules tree = nil error")
	}
}

// TestInitramfsOverlaySecureModules: the crypto modules of ms_mode=secure
// that the tree has come after the rbd ones, each after what it needs
// (ghash-generic after gf128mul); ones the tree lacks (built in) are skipped.
func TestInitramfsOverlaySecureModules(t *testing.T) {
	t.Parallel()
	entries := overlayOf(t, "kernel/crypto/ghash-generic.ko: kernel/crypto/gf128mul.ko\nkernel/crypto/gf128mul.ko:\nkernel/crypto/gcm.ko:\n",
		map[string]string{
			"kernel/crypto/ghash-generic.ko": "GHASH",
			"kernel/crypto/gf128mul.ko":      "GF128",
			"kernel/crypto/gcm.ko":           "GCM",
		})
	var got []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name, overlayModules+"/") && !e.Dir {
			got = append(got, strings.TrimPrefix(e.Name, overlayModules+"/")+"="+string(e.Data))
		}
	}
	want := []string{"01-crc32c_generic.ko=CRC", "02-libcrc32c.ko=LIBCRC", "03-libceph.ko=LIBCEPH", "04-rbd.ko=RBD",
		"05-gf128mul.ko=GF128", "06-ghash_generic.ko=GHASH", "07-gcm.ko=GCM"} // no ctr: built in here
	if !reflect.DeepEqual(got, want) {
		t.Errorf("overlay modules = %v, want %v", got, want)
	}
}

func TestNodeOverlay(t *testing.T) {
	t.Parallel()
	b, err := NodeOverlay(NodeConf{Monitors: []string{"198.18.0.1:6789", "198.18.0.2:6789"}, Pool: "rbd",
		Namespace: "node-a", Image: "root", User: "node-a", Hostname: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ReadCPIO(b)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if !e.Dir {
			files = append(files, e.Name)
			want := "# Written by bootd for this node; no secrets here.\nmonitors=198.18.0.1:6789,198.18.0.2:6789\n" +
				"pool=rbd\nnamespace=node-a\nimage=root\nuser=node-a\nhostname=web1\n"
			if string(e.Data) != want || e.Mode != 0o644 {
				t.Errorf("node.conf = %q (%v), want %q (0644)", e.Data, e.Mode, want)
			}
		}
	}
	if strings.Join(files, ",") != "etc/bootd/node.conf" {
		t.Errorf("node overlay files = %v, want only etc/bootd/node.conf", files)
	}
	// ms_mode travels as options=, '=' and all (bootd-init splits at the first '=').
	b, err = NodeOverlay(NodeConf{Monitors: []string{"198.18.0.1:3300"}, Pool: "rbd", Namespace: "node-a",
		Image: "root", User: "node-a", Options: "ms_mode=secure"})
	if err != nil {
		t.Fatalf("NodeOverlay(ms_mode=secure): %v", err)
	}
	entries, _ = ReadCPIO(b)
	if want := "monitors=198.18.0.1:3300\npool=rbd\nnamespace=node-a\nimage=root\nuser=node-a\noptions=ms_mode=secure\n"; len(entries) == 0 ||
		!strings.HasSuffix(string(entries[len(entries)-1].Data), want) {
		t.Errorf("node.conf with ms_mode = %q, want it to end %q", entries[len(entries)-1].Data, want)
	}
	for _, bad := range []NodeConf{
		{Monitors: []string{"1.2.3.4:6789"}, Pool: "rbd", Image: "root"},
		{Monitors: []string{"1.2.3.4:3300"}, Pool: "rbd", Image: "root", User: "u", Options: "ms_mode=secure\nkey=x"},
		{Monitors: []string{"1.2.3.4:6789"}, Pool: "rbd", Image: "root", User: "u", Hostname: "a\nkey=x"},
	} {
		if _, err := NodeOverlay(bad); err == nil {
			t.Errorf("NodeOverlay(%+v) = nil error", bad)
		}
	}
}
