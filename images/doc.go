// Package images is bootd's image catalog: it reads image definitions, one
// small YAML file per image, from a folder, checks them, and serves them as a
// [boot.Catalog].
//
// A folder holds any number of *.yaml or *.yml files; file names starting
// with a dot and subfolders are ignored. A definition looks like this:
//
//	# debian-12.yaml
//	name: debian-12                  # required; [a-z0-9][a-z0-9._-]{0,62}, unique in the folder
//	flavour: initramfs-tools         # required; alpine or initramfs-tools
//	arch: amd64                      # required; amd64 or arm64
//	kernel: /var/lib/bootd/images/debian-12/vmlinuz   # required
//	initrds:
//	  - /var/lib/bootd/images/debian-12/initrd.img
//	modules: /var/lib/bootd/images/debian-12/modules   # the kernel's lib/modules/<version> tree
//	cmdline: "console=ttyS0 root=/dev/rbd0 rw hostname={{.Hostname}}"
//	golden:
//	  pool: rbd                      # default rbd
//	  namespace: golden              # default golden
//	  image: debian-12               # required
//	  snapshot: v1                   # required
//	size: 20G                        # required; default root volume size
//
// An Alpine image also names its package repository (required, an http or
// https URL) and may name its modloop:
//
//	flavour: alpine
//	modloop: modloop-lts
//	repository: https://dl-cdn.alpinelinux.org/alpine/v3.20/main
//
// An arm64 image may name a Raspberry Pi firmware folder (start4.elf,
// fixup4.dat, device trees) with firmware:. Images of the initramfs-tools
// flavour must not set modloop or repository.
//
// The modules tree (optional) is where bootd takes the rbd kernel modules it
// adds to the initramfs at boot, with their dependencies from modules.dep.
//
// Relative kernel, initrd, modloop, firmware and modules paths are resolved against
// the folder of the file that names them; all paths are cleaned. Loading
// does not check that the files exist (bootd explain does).
//
// The cmdline is a [text/template] for the kernel command line; loading
// checks that it parses. Its fields are {{.Hostname}} (the node's host
// name), {{.MAC}} (its MAC address, lower-case colon form) and {{.Image}}
// (the image's name).
//
// Sizes are a whole number of bytes or a number with a binary unit K, M, G
// or T, as read by [boot.ParseSize].
//
// [Load] and [LoadFS] report every problem of every file at once, each
// naming its file and field, for example
//
//	images/debian.yaml: flavour: "alpin" is not one of alpine, initramfs-tools
//
// [Example] returns a built-in catalog of two images (debian-12 and
// alpine-3.20), which bootd serves when it is given no image folder.
package images
