//go:build e2e

// Package e2e is bootd's end-to-end harness: as root, it makes a network
// namespace with a bridge and tap devices, starts the project's single-node
// Ceph cluster and bootd there, and boots QEMU virtual machines (SeaBIOS
// with the NIC's iPXE ROM, and OVMF's own PXE client) through bootd onto
// their RBD cloud disks, reading their serial consoles. `make e2e` runs it;
// the README's test command includes it.
package e2e
