//go:build e2e

// Package e2e is bootd's end-to-end harness: as root, it makes a network
// namespace with a bridge and tap devices, starts the project's single-node
// Ceph cluster and bootd there, and boots QEMU virtual machines (SeaBIOS
// with the NIC's iPXE ROM, and OVMF's own PXE client) through bootd onto
// their RBD cloud disks, reading their serial consoles. It also builds the
// Raspberry Pi 4 image (scripts/image-pi4.sh) and checks that bootd explain
// passes for a node of each image and that the Pi's files come over TFTP,
// then boots a Pi node's kernel8.img, initrd.img and cmdline.txt under
// qemu-system-aarch64 -M virt onto its RBD clone. TestMsModeSecure boots
// one node with bootd's default msgr v1 and one with --ceph-ms-mode secure
// and prints the cost of encryption. `make e2e` runs it;
// the README's test command includes it.
package e2e
