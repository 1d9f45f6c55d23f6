package images

import (
	"strings"
	"testing"
)

func TestKernelModulesOrder(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{
		"modules.dep": "kernel/drivers/block/rbd.ko: kernel/net/ceph/libceph.ko kernel/lib/libcrc32c.ko\n" +
			"kernel/net/ceph/libceph.ko: kernel/lib/libcrc32c.ko\n" +
			"kernel/lib/libcrc32c.ko:\n" +
			"kernel/crypto/crc32c_generic.ko:\n" +
			"kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\n",
		"kernel/drivers/block/rbd.ko":     "rbd",
		"kernel/net/ceph/libceph.ko":      "libceph",
		"kernel/lib/libcrc32c.ko":         "libcrc32c",
		"kernel/crypto/crc32c_generic.ko": "crc",
	})
	mods, err := KernelModules(dir, RBDModules...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"crc32c_generic": "crc", "libcrc32c": "libcrc32c", "libceph": "libceph", "rbd": "rbd"}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
		if string(m.Data) != want[m.Name] {
			t.Errorf("module %s has data %q, want %q", m.Name, m.Data, want[m.Name])
		}
	}
	if got := strings.Join(names, " "); got != "crc32c_generic libcrc32c libceph rbd" {
		t.Errorf("KernelModules order = %s, want crc32c_generic libcrc32c libceph rbd", got)
	}
	if _, err := KernelModules(dir, "ext4"); err == nil || !strings.Contains(err.Error(), "jbd2") {
		t.Errorf("KernelModules(ext4) with jbd2 missing = %v, want an error naming jbd2", err)
	}
	if _, err := KernelModules(t.TempDir(), "rbd"); err == nil || !strings.Contains(err.Error(), "depmod") {
		t.Errorf("KernelModules without modules.dep = %v, want a hint to run depmod", err)
	}
}
