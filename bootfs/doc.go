// Package bootfs is the set of files machines fetch while they boot, the
// same over TFTP and HTTP: iPXE binaries, each node's tree of kernel,
// initrds and generated files (its iPXE script, and for a Raspberry Pi its
// config.txt and cmdline.txt beside the image's firmware), resolved safely.
//
// Names come from the network and are checked before anything is opened
// (CheckName): relative, at most 255 bytes and 16 elements, made of letters,
// digits and . _ - + , = @ ~, no element starting with a dot. So "..",
// absolute paths, backslashes, NUL bytes, percent-encoding and over-long
// names are refused. A name inside a folder (the image's firmware) is opened
// through os.Root, which refuses symbolic links that leave the folder.
// Kernels and initrds are the paths the image catalog names, never a path a
// client spelled. The iPXE folder is the one exception to the symlink rule:
// a client can only pick one of its top-level entries by exact name, and an
// entry is opened as its package made it (Debian's ipxe links ipxe.efi to
// /boot/ipxe.efi).
//
// A node's tree, under its MAC address in HTTP URLs (/boot/<mac>/...) and
// under its MAC or its Raspberry Pi serial number over TFTP (<prefix>/...);
// every name and URL is built by the layout (layout.go: Layout, the *File
// names):
//
//	boot.ipxe    the iPXE script (also for unknown machines and netboot off)
//	kernel       the image's kernel
//	initrd/<n>   the image's n-th initrd, from 0
//
// and for an image with Raspberry Pi firmware:
//
//	config.txt   arm_64bit, kernel8.img, initrd.img followkernel, cmdline.txt
//	cmdline.txt  the kernel command line, one line
//	kernel8.img  the kernel
//	initrd.img   the image's initrds as one file
//	*            anything else: the image's firmware folder
//
// Generated files are rendered in memory for each request from the
// templates package; static files are opened for each request and are
// sent from the page cache (sendfile over HTTP).
package bootfs
