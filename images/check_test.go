package images

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

// edit returns def with old replaced by new. It panics if old is absent, a
// mistake in the test table.
func edit(def, old, new string) string {
	if !strings.Contains(def, old) {
		panic(fmt.Sprintf("edit: %q not in definition", old))
	}
	return strings.Replace(def, old, new, 1)
}

// invalidTests are definitions Load must refuse, and what its error must say.
var invalidTests = []struct {
	name  string
	files map[string]string
	want  []string // each must appear in the error, after the folder
}{
	{"missing name", map[string]string{"a.yaml": edit(debian, "name: debian\n", "")},
		[]string{"a.yaml: name: required"}},
	{"bad name", map[string]string{"a.yaml": edit(debian, "name: debian", "name: Debian/12")},
		[]string{`a.yaml: name: "Debian/12" is not a valid name`}},
	{"long name", map[string]string{"a.yaml": edit(debian, "name: debian", "name: "+strings.Repeat("a", 64))},
		[]string{"a.yaml: name: ", "is not a valid name"}},
	{"missing flavour", map[string]string{"a.yaml": edit(debian, "flavour: initramfs-tools\n", "")},
		[]string{"a.yaml: flavour: required"}},
	{"bad flavour", map[string]string{"a.yaml": edit(debian, "flavour: initramfs-tools", "flavour: alpin")},
		[]string{`a.yaml: flavour: "alpin" is not one of alpine, initramfs-tools`}},
	{"bad arch", map[string]string{"a.yaml": edit(debian, "arch: amd64", "arch: x86_64")},
		[]string{`a.yaml: arch: "x86_64" is not one of amd64, arm64`}},
	{"missing arch", map[string]string{"a.yaml": edit(debian, "arch: amd64\n", "")},
		[]string{"a.yaml: arch: required"}},
	{"missing kernel", map[string]string{"a.yaml": edit(debian, "kernel: /srv/debian/vmlinuz\n", "")},
		[]string{"a.yaml: kernel: required"}},
	{"NUL in kernel", map[string]string{"a.yaml": edit(debian, "/srv/debian/vmlinuz", `"/srv/vm\0linuz"`)},
		[]string{"a.yaml: kernel: ", "contains a NUL byte"}},
	{"empty initrd", map[string]string{"a.yaml": edit(debian, "[/srv/debian/initrd.img]", `[/srv/i, ""]`)},
		[]string{"a.yaml: initrds[1]: required"}},
	{"missing size", map[string]string{"a.yaml": edit(debian, "size: 20G\n", "")},
		[]string{"a.yaml: size: required"}},
	{"bad size", map[string]string{"a.yaml": edit(debian, "size: 20G", "size: 20X")},
		[]string{`a.yaml: size: bad size "20X"`}},
	{"negative size", map[string]string{"a.yaml": edit(debian, "size: 20G", "size: -1")},
		[]string{`a.yaml: size: bad size "-1"`}},
	{"bad template", map[string]string{"a.yaml": edit(debian, "{{.Hostname}}", "{{.Hostname")},
		[]string{"a.yaml: cmdline: template: "}},
	{"unknown key", map[string]string{"a.yaml": debian + "kernal: /x\n"},
		[]string{`a.yaml: line 9: unknown key "kernal"`}},
	{"unknown golden key", map[string]string{"a.yaml": edit(debian, "snapshot: v1", "snapshot: v1, snap: v2")},
		[]string{`a.yaml: line 7: unknown key "snap"`}},
	{"wrong type", map[string]string{"a.yaml": edit(debian, "[/srv/debian/initrd.img]", "{a: b}")},
		[]string{"a.yaml: line 5: cannot unmarshal"}},
	{"bad YAML", map[string]string{"a.yaml": "name: [debian\n"},
		[]string{"a.yaml: yaml: line "}},
	{"empty file", map[string]string{"a.yaml": ""},
		[]string{"a.yaml: empty file"}},
	{"two documents", map[string]string{"a.yaml": debian + "---\n" + debian},
		[]string{"a.yaml: more than one YAML document"}},
	{"duplicate name", map[string]string{"a.yaml": debian, "b.yml": debian},
		[]string{`b.yml: name: "debian" is already defined in `, "a.yaml"}},
	{"alpine without repository", map[string]string{"a.yaml": edit(alpine, "repository: https://dl-cdn.alpinelinux.org/alpine/v3.20/main\n", "")},
		[]string{"a.yaml: repository: required for flavour alpine"}},
	{"alpine with bad repository", map[string]string{"a.yaml": edit(alpine, "https://dl-cdn", "ftp://dl-cdn")},
		[]string{`a.yaml: repository: "ftp://dl-cdn.alpinelinux.org/alpine/v3.20/main" is not an http or https URL`}},
	{"initramfs-tools with alpine fields", map[string]string{"a.yaml": debian + "modloop: m\nrepository: https://x/\n"},
		[]string{"a.yaml: modloop: only for flavour alpine", "a.yaml: repository: only for flavour alpine"}},
	{"firmware on amd64", map[string]string{"a.yaml": debian + "firmware: /srv/rpi\n"},
		[]string{"a.yaml: firmware: only for arch arm64"}},
	{"secure boot on arm64", map[string]string{"a.yaml": edit(debian, "arch: amd64", "arch: arm64") + "secure_boot: {shim: s.efi, grub: g.efi}\n"},
		[]string{"a.yaml: secure_boot: only for arch amd64"}},
	{"secure boot without grub", map[string]string{"a.yaml": debian + "secure_boot: {shim: s.efi}\n"},
		[]string{"a.yaml: secure_boot.grub: required"}},
	{"secure boot with an unknown key", map[string]string{"a.yaml": debian + "secure_boot: {shim: s.efi, grub: g.efi, mok: m}\n"},
		[]string{`unknown key "mok"`}},
	{"golden without snapshot", map[string]string{"a.yaml": edit(debian, ", snapshot: v1", "")},
		[]string{"a.yaml: golden.snapshot: required"}},
	{"golden without image", map[string]string{"a.yaml": edit(debian, "image: debian, ", "")},
		[]string{"a.yaml: golden.image: required"}},
	{"golden with slash", map[string]string{"a.yaml": edit(debian, "image: debian", "image: a/b")},
		[]string{`a.yaml: golden.image: "a/b" may not contain`}},
	{"unknown key and other errors", map[string]string{"a.yaml": edit(debian, "kernel:", "kernal:")},
		[]string{`a.yaml: line 4: unknown key "kernal"`, "a.yaml: kernel: required"}},
	{"all errors of all files", map[string]string{
		"a.yaml": edit(debian, "arch: amd64", "arch: i386"),
		"b.yaml": edit(alpine, "size: 8G", "size: big"),
	}, []string{`a.yaml: arch: "i386"`, `b.yaml: size: bad size "big"`}},
}

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	for _, tt := range invalidTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeDir(t, tt.files)
			_, err := Load(dir)
			if !errors.Is(err, boot.ErrInvalid) {
				t.Fatalf("Load(%q) error = %v, want one wrapping ErrInvalid", dir, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load(%q) error = %v, want mention of %q", dir, err, w)
				}
			}
			if want := filepath.Join(dir, ""); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Load(%q) error = %v, want it to start with the folder", dir, err)
			}
		})
	}
}

// TestLoadMessage checks a whole message: the folder as given, then file and field.
func TestLoadMessage(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{"images/debian.yaml": edit(debian, "flavour: initramfs-tools", "flavour: alpin")})
	_, err := Load(filepath.Join(dir, "images"))
	want := filepath.Join(dir, "images", "debian.yaml") + `: flavour: "alpin" is not one of alpine, initramfs-tools`
	if err == nil || err.Error() != want {
		t.Errorf("Load() error = %v, want %s", err, want)
	}
}

func TestLoadSizeForms(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		size string
		want int64
	}{
		{"20G", 20 << 30},
		{"512Mi", 512 << 20},
		{"1073741824", 1 << 30},
		{`"4096"`, 4096},
	} {
		t.Run(tt.size, func(t *testing.T) {
			t.Parallel()
			dir := writeDir(t, map[string]string{"a.yaml": edit(debian, "size: 20G", "size: "+tt.size)})
			c, err := Load(dir)
			if err != nil {
				t.Fatalf("Load(%q) error = %v, want nil", dir, err)
			}
			if got := c.sorted[0].SizeBytes; got != tt.want {
				t.Errorf("size %s: SizeBytes = %d, want %d", tt.size, got, tt.want)
			}
		})
	}
}
