package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

func TestApkovlContents(t *testing.T) {
	t.Parallel()
	img := &boot.Image{Name: "alpine", Flavour: boot.FlavourAlpine, Arch: "amd64",
		Repository: "http://198.18.0.1:8080/alpine/main"}
	conf := NodeConf{Monitors: []string{"198.18.0.1:6789"}, Pool: "rbd", Namespace: "node-a", Image: "root",
		User: "node-a", Hostname: "pi1"}
	b, err := Apkovl(img, conf, []byte("ELF"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		var desc string
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeSymlink:
			desc = "link " + h.Linkname
		default:
			desc = string(data)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s is owned by %d:%d, want root", h.Name, h.Uid, h.Gid)
		}
		got[h.Name] = fmt.Sprintf("%o %s", h.Mode, desc)
	}
	want := map[string]string{
		"etc/.default_boot_services":      "644 ",
		"etc/apk/repositories":            "644 http://198.18.0.1:8080/alpine/main\n",
		"etc/bootd/node.conf":             "644 # Written by bootd for this node; no secrets here.\nmonitors=198.18.0.1:6789\npool=rbd\nnamespace=node-a\nimage=root\nuser=node-a\nhostname=pi1\n",
		"etc/hostname":                    "644 pi1\n",
		"etc/hosts":                       "644 127.0.0.1\tlocalhost pi1\n::1\tlocalhost\n",
		"etc/lbu/lbu.conf":                "644 # bootd: commit to this node's RBD volume\nLBU_MEDIA=rbd\n",
		"etc/network/interfaces":          "644 auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n\thostname pi1\n",
		"etc/runlevels/boot/networking":   "777 link /etc/init.d/networking",
		"etc/runlevels/default/bootd-rbd": "777 link /etc/init.d/bootd-rbd",
		"usr/bin/bootd-init":              "755 ELF",
	}
	service := got["etc/init.d/bootd-rbd"]
	delete(got, "etc/init.d/bootd-rbd")
	if !strings.HasPrefix(service, "755 #!/sbin/openrc-run") {
		t.Errorf("bootd-rbd service = %.40q, want an executable OpenRC script", service)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("apkovl =\n%q\nwant\n%q", got, want)
	}
	again, _ := Apkovl(img, conf, []byte("ELF"))
	if !bytes.Equal(b, again) {
		t.Errorf("Apkovl is not deterministic")
	}
	if _, err := Apkovl(&boot.Image{Name: "d", Flavour: boot.FlavourInitramfsTools}, conf, []byte("ELF")); err == nil {
		t.Errorf("Apkovl for an initramfs-tools image = nil error")
	}
}
