package bootfs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The files a Raspberry Pi 4 bootloader must find in a node's tree to start
// (Raspberry Pi documentation, boot-net and config.txt: start4.elf loads the
// rest and needs its matching fixup4.dat).
var piRequired = []string{"start4.elf", "fixup4.dat"}

// piFirmwareFiles lists the firmware folder dir as files of the node's tree:
// each top-level file by name, and each subfolder as <name>/*. A folder that
// cannot be read is listed as one entry "*" (its check says why).
func piFirmwareFiles(dir string) []ExplainFile {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []ExplainFile{{Name: "*", Source: dir + "/"}}
	}
	var out []ExplainFile
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // CheckName refuses such names: never served
		}
		name, src := e.Name(), filepath.Join(dir, e.Name())
		if e.IsDir() {
			name, src = name+"/*", src+"/"
		}
		out = append(out, ExplainFile{Name: name, Source: src})
	}
	return out
}

// firmwareCheck checks that the firmware folder dir has what a Pi 4 reads
// first: start4.elf, fixup4.dat and a BCM2711 device tree
// (bcm2711-rpi-4-b.dtb for the Pi 4 B), as regular files inside the folder.
func firmwareCheck(dir string) Check {
	c := Check{Name: "raspberry pi 4 firmware", Detail: dir}
	root, err := os.OpenRoot(dir)
	if err != nil {
		c.Problem = err.Error()
		return c
	}
	defer root.Close()
	var found, missing []string
	for _, name := range piRequired {
		if file, _, err := openRegular(root, name); err != nil {
			missing = append(missing, name)
		} else {
			file.Close()
			found = append(found, name)
		}
	}
	dtbs, _ := filepath.Glob(filepath.Join(dir, "bcm2711-*.dtb"))
	for _, p := range dtbs {
		if file, _, err := openRegular(root, filepath.Base(p)); err == nil {
			file.Close()
			found = append(found, filepath.Base(p))
		}
	}
	if !slices.ContainsFunc(found, func(s string) bool { return strings.HasSuffix(s, ".dtb") }) {
		missing = append(missing, "bcm2711-rpi-4-b.dtb (or another bcm2711-*.dtb)")
	}
	if len(missing) > 0 {
		c.Problem = "the firmware folder " + dir + " lacks " + strings.Join(missing, ", ")
		return c
	}
	c.OK, c.Detail = true, strings.Join(found, " ")
	return c
}
