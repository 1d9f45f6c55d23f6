package images

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// RBDModules names the kernel modules a node needs to map an RBD volume, in
// the order asked for: crc32c_generic first, since libcrc32c only names a
// crc32c provider as a soft dependency and a CPU without SSE4.2 (QEMU's TCG)
// has no crc32c-intel (modinfo libcrc32c: "softdep: pre: crc32c"; make e2e's
// TCG guests map only with crc32c_generic loaded first).
var RBDModules = []string{"crc32c_generic", "rbd"}

// SecureModules names the kernel crypto modules a node needs to map with
// ms_mode=secure (msgr2 with AES-GCM, net/ceph/messenger_v2.c asks the
// crypto API for "gcm(aes)" when the connection is set up): the gcm
// template, the ctr and ghash it is built from, and ghash's gf128mul.
// Debian 12's 6.1 kernel has them as modules and AES itself built in. They
// are optional: where a kernel has one built in (not in modules.dep) it is
// skipped, and they are small, so every overlay carries them whatever the
// site's ms_mode.
var SecureModules = []string{"gf128mul", "ghash_generic", "ctr", "gcm"}

// A Module is one kernel module file.
type Module struct {
	// Name is the module's name, with underscores (libceph, crc32c_generic).
	Name string
	// Path is the file's path inside the modules tree (kernel/net/ceph/libceph.ko).
	Path string
	Data []byte
}

// KernelModules reads modules.dep of the modules tree dir (a
// lib/modules/<version> folder) and returns the named modules with all their
// dependencies, each once, every module after the ones it needs: the order
// to load them in.
func KernelModules(dir string, names ...string) ([]Module, error) {
	return kernelModules(dir, names, nil)
}

// kernelModules is KernelModules for the required names, followed by the
// optional ones that modules.dep lists (the others are built in or not
// configured: not an error).
func kernelModules(dir string, required, optional []string) ([]Module, error) {
	deps, err := readModulesDep(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	var out []Module
	seen := map[string]bool{}
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		if seen[name] {
			return nil
		}
		if len(chain) > 32 {
			return fmt.Errorf("modules.dep: dependency loop: %s", strings.Join(chain, " -> "))
		}
		entry, ok := deps[name]
		if !ok {
			return fmt.Errorf("module %s is not in %s", name, filepath.Join(dir, "modules.dep"))
		}
		for i := len(entry.deps) - 1; i >= 0; i-- { // modprobe loads the list's end first
			if err := visit(moduleName(entry.deps[i]), append(chain, name)); err != nil {
				return err
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(entry.path)))
		if err != nil {
			return fmt.Errorf("module %s: %w", name, err)
		}
		seen[name] = true
		out = append(out, Module{Name: name, Path: entry.path, Data: data})
		return nil
	}
	for _, n := range required {
		if err := visit(strings.ReplaceAll(n, "-", "_"), nil); err != nil {
			return nil, err
		}
	}
	for _, n := range optional {
		n = strings.ReplaceAll(n, "-", "_")
		if _, ok := deps[n]; !ok {
			continue
		}
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type depEntry struct {
	path string
	deps []string
}

func readModulesDep(file string) (map[string]depEntry, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("kernel modules: %w (run depmod on the modules tree)", err)
	}
	out := map[string]depEntry{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		out[moduleName(mod)] = depEntry{path: mod, deps: strings.Fields(rest)}
	}
	return out, sc.Err()
}

// moduleName turns a module file path into its name: kernel/lib/libcrc32c.ko.xz -> libcrc32c.
func moduleName(p string) string {
	base := path.Base(p)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}
