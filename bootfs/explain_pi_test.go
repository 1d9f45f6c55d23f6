package bootfs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestFirmwareCheck: the check passes only with start4.elf, fixup4.dat and
// a BCM2711 device tree as regular files, and names what is missing.
func TestFirmwareCheck(t *testing.T) {
	t.Parallel()
	all := []string{"start4.elf", "fixup4.dat", "bcm2711-rpi-4-b.dtb"}
	tests := []struct {
		name    string
		files   []string
		dirs    []string
		ok      bool
		missing string
	}{
		{name: "complete", files: all, ok: true},
		{name: "pi 400 tree only", files: []string{"start4.elf", "fixup4.dat", "bcm2711-rpi-400.dtb"}, ok: true},
		{name: "no fixup", files: []string{"start4.elf", "bcm2711-rpi-4-b.dtb"}, missing: "fixup4.dat"},
		{name: "no device tree", files: []string{"start4.elf", "fixup4.dat", "bcm2837-rpi-3-b.dtb"}, missing: "bcm2711-rpi-4-b.dtb"},
		{name: "start4.elf is a folder", files: []string{"fixup4.dat", "bcm2711-rpi-4-b.dtb"}, dirs: []string{"start4.elf"}, missing: "start4.elf"},
		{name: "empty", missing: "start4.elf, fixup4.dat, bcm2711"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, f := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range tt.dirs {
				if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			c := firmwareCheck(dir)
			if c.OK != tt.ok || !strings.Contains(c.Problem, tt.missing) {
				t.Errorf("firmwareCheck(%v) = %+v, want ok %v and a problem naming %q", tt.files, c, tt.ok, tt.missing)
			}
		})
	}
	if c := firmwareCheck(filepath.Join(t.TempDir(), "absent")); c.OK || c.Problem == "" {
		t.Errorf("firmwareCheck(absent folder) = %+v, want a problem", c)
	}
}

// TestPiFirmwareFiles: the node's tree lists each firmware file by name,
// subfolders as <name>/*, and an unreadable folder as "*".
func TestPiFirmwareFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"start4.elf", "bcm2711-rpi-4-b.dtb", ".hidden", "overlays/a.dtbo"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, f := range piFirmwareFiles(dir) {
		got = append(got, f.Name+"="+strings.TrimPrefix(f.Source, dir))
	}
	want := []string{"bcm2711-rpi-4-b.dtb=/bcm2711-rpi-4-b.dtb", "overlays/*=/overlays/", "start4.elf=/start4.elf"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("piFirmwareFiles = %v, want %v", got, want)
	}
	absent := filepath.Join(dir, "absent")
	if got := piFirmwareFiles(absent); len(got) != 1 || got[0].Name != "*" {
		t.Errorf("piFirmwareFiles(absent) = %v, want one entry *", got)
	}
}
