//go:build e2e

package e2e

import (
	"encoding/json"
	"testing"

	"github.com/bootd/bootd/boot"
)

// checkInventory checks the hardware the VM reported in its boot against
// its QEMU command line (bootVM: -smp 1, -m 768, one NIC with the node's
// MAC, no disk): bootd show -o json has it.
func (r *rig) checkInventory(t *testing.T, mac string) {
	t.Helper()
	var shown struct {
		Node boot.Node `json:"node"`
	}
	if err := json.Unmarshal([]byte(r.cli(t, "show", mac, "-o", "json")), &shown); err != nil {
		t.Fatalf("show %s: %v", mac, err)
	}
	inv := shown.Node.Inventory
	if inv == nil {
		t.Fatalf("%s reported no inventory; its console:\n%s\nbootd's log:\n%s", mac, r.console, r.ns.logTail("bootd", 60))
	}
	t.Logf("%s inventory: %s %s, %d CPUs, %d MiB, NICs %+v, disks %+v", mac, inv.Vendor, inv.Model, inv.CPUs,
		inv.MemoryBytes>>20, inv.NICs, inv.Disks)
	if inv.CPUs != 1 {
		t.Errorf("inventory: %d CPUs, want 1 (-smp 1)", inv.CPUs)
	}
	if mib := inv.MemoryBytes >> 20; mib < 640 || mib > 768 {
		t.Errorf("inventory: %d MiB of memory, want about 768 (-m 768)", mib)
	}
	found := false
	for _, nic := range inv.NICs {
		found = found || nic.MAC == mac
	}
	if !found || len(inv.NICs) != 1 {
		t.Errorf("inventory NICs %+v, want one, with MAC %s", inv.NICs, mac)
	}
	if len(inv.Disks) != 0 {
		t.Errorf("inventory disks %+v, want none (diskless; the RBD volume is not one)", inv.Disks)
	}
	if inv.Vendor != "QEMU" {
		t.Errorf("inventory vendor %q, want QEMU (its DMI)", inv.Vendor)
	}
}
