package images

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

func TestCPIORoundTrip(t *testing.T) {
	t.Parallel()
	in := []CPIOFile{
		{Name: "scripts/local-top/bootd", Mode: 0o755, Data: []byte("#!/bin/sh\necho hi\n")},
		{Name: "etc/bootd/node.conf", Mode: 0o644, Data: []byte("pool=rbd\n")},
		{Name: "bin/rbd-helper", Mode: 0o777, Link: "/usr/bin/bootd-init"},
		{Name: "empty", Mode: 0o600},
	}
	b, err := WriteCPIO(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%512 != 0 {
		t.Errorf("archive is %d bytes, not a whole number of 512-byte blocks", len(b))
	}
	got, err := ReadCPIO(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []CPIOFile{
		{Name: "bin", Mode: 0o755, Dir: true},
		{Name: "bin/rbd-helper", Mode: 0o777, Link: "/usr/bin/bootd-init"},
		{Name: "empty", Mode: 0o600},
		{Name: "etc", Mode: 0o755, Dir: true},
		{Name: "etc/bootd", Mode: 0o755, Dir: true},
		{Name: "etc/bootd/node.conf", Mode: 0o644, Data: []byte("pool=rbd\n")},
		{Name: "scripts", Mode: 0o755, Dir: true},
		{Name: "scripts/local-top", Mode: 0o755, Dir: true},
		{Name: "scripts/local-top/bootd", Mode: 0o755, Data: []byte("#!/bin/sh\necho hi\n")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadCPIO(WriteCPIO(...)) =\n%+v\nwant\n%+v", got, want)
	}
	again, _ := WriteCPIO(in)
	if !bytes.Equal(b, again) {
		t.Errorf("WriteCPIO is not deterministic")
	}
}

// TestCPIOWithCpioTool checks the archive against GNU cpio, the reference reader.
func TestCPIOWithCpioTool(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Fatalf("cpio(1) is needed (scripts/deps.d): %v", err)
	}
	b, err := WriteCPIO([]CPIOFile{{Name: "a/b/c.txt", Mode: 0o640, Data: []byte("hello\n")}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-idm", "--quiet", "--no-absolute-filenames")
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(b)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "a/b/c.txt"))
	st, _ := os.Stat(filepath.Join(dir, "a/b/c.txt"))
	if err != nil || string(got) != "hello\n" || st.Mode().Perm() != 0o640 {
		t.Errorf("cpio extracted %q (%v), mode %v; want hello, 0640", got, err, st.Mode())
	}
}

func TestCPIORefusesBadNames(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"/etc/passwd", "../x", "a/../../x", "", "a//b"} {
		if _, err := WriteCPIO([]CPIOFile{{Name: n}}); err == nil {
			t.Errorf("WriteCPIO(%q) = nil error, want refusal", n)
		}
	}
}
