package bootfs

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	t.Parallel()
	good := []string{
		"boot.ipxe", "kernel", "initrd/0", "undionly.kpxe", "d1c4f2a9/start4.elf",
		"dc-a6-32-01-02-03/overlays/vc4-kms-v3d.dtbo", "vmlinuz-6.1.0-18-amd64", "a+b,c=d@e~f_g",
		strings.Repeat("a", MaxNameLen), strings.Repeat("a/", MaxNameDepth-1) + "a",
	}
	for _, name := range good {
		if err := CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", name, err)
		}
	}
	bad := []string{
		"", "/etc/passwd", "../etc/passwd", "a/../../b", "a/./b", ".", "..", ".hidden", "a/.git/config",
		"a//b", "a/", "a\\b", "..\\..\\windows", "a\x00b", "a%2fb", "%2e%2e/x", "a b", "a\nb", "a\tb",
		"caf\u00e9", "a:b", "C:", "a?b", "a*b", "a;b", "a|b", "a`b", "a$b", "a'b", "a\"b", "a<b>",
		strings.Repeat("a", MaxNameLen+1), strings.Repeat("a/", MaxNameDepth) + "a", "\xff\xfe",
	}
	for _, name := range bad {
		err := CheckName(name)
		if !errors.Is(err, ErrBadName) {
			t.Errorf("CheckName(%q) = %v, want ErrBadName", name, err)
		}
	}
}

func TestSentinels(t *testing.T) {
	t.Parallel()
	if err := notFound("x"); !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) || err.Error() != "file not found: x" {
		t.Errorf("notFound(x) = %q, want a file not found matching fs.ErrNotExist", err)
	}
	if err := CheckName(".."); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("CheckName(..) = %v, want an error matching fs.ErrPermission", err)
	}
}
