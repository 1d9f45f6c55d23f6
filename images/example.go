package images

import "embed"

//go:embed example/*.yaml
var example embed.FS

// Example returns the built-in example catalog: debian-12 (initramfs-tools)
// and alpine-3.20 (alpine), both amd64, with their files under
// /var/lib/bootd/images. bootd serves it when given no image folder, so it
// runs with no setup. Each call loads a new Catalog; an error means the
// embedded files are broken.
func Example() (*Catalog, error) {
	return LoadFS(example, "example")
}
