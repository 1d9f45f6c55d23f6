package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/templates"
)

// An OvlFile is one entry of an apkovl.
type OvlFile struct {
	Name string // relative path, e.g. etc/hostname
	Mode fs.FileMode
	Data []byte
	Link string // symbolic link target, when not empty
}

// ApkovlFiles returns what bootd puts in an Alpine node's apkovl (the
// overlay of /etc that Alpine's diskless init fetches with apkovl=): the
// node's hostname and network settings, its package repository, the OpenRC
// service bootd-rbd that maps and mounts its RBD volume on /media/rbd (with
// bootd-init, helper, the static binary for the image's architecture, and
// the node's non-secret volume settings), and lbu set to commit there.
func ApkovlFiles(img *boot.Image, c NodeConf, helper []byte) ([]OvlFile, error) {
	if img.Flavour != boot.FlavourAlpine {
		return nil, fmt.Errorf("image %s: an apkovl is for flavour alpine, not %s", img.Name, img.Flavour)
	}
	if len(helper) == 0 {
		return nil, fmt.Errorf("image %s: no bootd-init binary for %s", img.Name, img.Arch)
	}
	conf, err := nodeConf(c)
	if err != nil {
		return nil, err
	}
	service, err := fs.ReadFile(templates.Alpine, "alpine/bootd-rbd")
	if err != nil {
		return nil, err
	}
	h := c.Hostname
	return []OvlFile{
		{Name: "etc/.default_boot_services", Mode: 0o644}, // keep Alpine's default services with our overlay
		{Name: "etc/apk/repositories", Mode: 0o644, Data: []byte(img.Repository + "\n")},
		{Name: "etc/bootd/node.conf", Mode: 0o644, Data: conf},
		{Name: "etc/hostname", Mode: 0o644, Data: []byte(h + "\n")},
		{Name: "etc/hosts", Mode: 0o644, Data: []byte("127.0.0.1\tlocalhost " + h + "\n::1\tlocalhost\n")},
		{Name: "etc/init.d/bootd-rbd", Mode: 0o755, Data: service},
		{Name: "etc/lbu/lbu.conf", Mode: 0o644, Data: []byte("# bootd: commit to this node's RBD volume\nLBU_MEDIA=rbd\n")},
		{Name: "etc/network/interfaces", Mode: 0o644,
			Data: []byte("auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n\thostname " + h + "\n")},
		{Name: "etc/runlevels/boot/networking", Mode: 0o777, Link: "/etc/init.d/networking"},
		{Name: "etc/runlevels/default/bootd-rbd", Mode: 0o777, Link: "/etc/init.d/bootd-rbd"},
		{Name: "usr/bin/bootd-init", Mode: 0o755, Data: helper},
	}, nil
}

// Apkovl returns the node's apkovl as a tar.gz, built in memory. Entries
// are root-owned and dated by the clock's zero second, so the same node
// gives the same bytes.
func Apkovl(img *boot.Image, c NodeConf, helper []byte) ([]byte, error) {
	files, err := ApkovlFiles(img, c, helper)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	epoch := time.Unix(0, 0)
	for _, f := range files {
		for _, d := range parents(f.Name) {
			if !dirs[d] {
				dirs[d] = true
				tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatUSTAR})
			}
		}
		hdr := &tar.Header{Name: f.Name, Mode: int64(f.Mode.Perm()), ModTime: epoch, Format: tar.FormatUSTAR}
		if f.Link != "" {
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.Link
		} else {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.Data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// parents lists the folders above name, outermost first: a/b/c -> a, a/b.
func parents(name string) []string {
	var out []string
	for i := range name {
		if name[i] == '/' {
			out = append(out, name[:i])
		}
	}
	return out
}

// nodeConf renders node.conf, refusing values that would break its lines.
// Options alone may hold '=' (ms_mode=secure): bootd-init splits a line at
// its first '='.
func nodeConf(c NodeConf) ([]byte, error) {
	for field, v := range map[string]string{"pool": c.Pool, "image": c.Image, "user": c.User,
		"monitors": strings.Join(c.Monitors, ","), "namespace": c.Namespace, "options": c.Options, "hostname": c.Hostname, "fingerprint": c.Fingerprint} {
		bad := " \t\r\n="
		if field == "options" {
			bad = " \t\r\n"
		}
		if strings.ContainsAny(v, bad) {
			return nil, fmt.Errorf("node settings: %s %q has a space, newline or '='", field, v)
		}
	}
	if len(c.Monitors) == 0 || c.Pool == "" || c.Image == "" || c.User == "" {
		return nil, fmt.Errorf("node settings: monitors, pool, image and user are required")
	}
	for _, e := range c.Fallbacks {
		if e.URL == "" || e.Fingerprint == "" || strings.ContainsAny(e.URL+e.Fingerprint, " \t\r\n") {
			return nil, fmt.Errorf("node settings: fallback %q %q is empty or has a space or newline", e.URL, e.Fingerprint)
		}
	}
	var b strings.Builder
	b.WriteString("# Written by bootd for this node; no secrets here.\n")
	for _, kv := range [][2]string{{"monitors", strings.Join(c.Monitors, ",")}, {"pool", c.Pool},
		{"namespace", c.Namespace}, {"image", c.Image}, {"user", c.User}, {"options", c.Options}, {"hostname", c.Hostname},
		{"fingerprint", c.Fingerprint}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
		}
	}
	// Another instance's node listener, "fallback=<node URL> <fingerprint>",
	// a line each: bootd-init asks them in order when the one of its
	// command line does not answer.
	for _, e := range c.Fallbacks {
		fmt.Fprintf(&b, "fallback=%s %s\n", e.URL, e.Fingerprint)
	}
	return []byte(b.String()), nil
}
