package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jaypipes/ghw"
)

// The machine's inventory, sent once a boot (bootd-init inventory, after
// the key): what bootd shows as the node's hardware and compares between
// boots. DMI, CPUs, memory, NICs and disks come from ghw, which reads them
// from /sys and /proc (under the root prefix in tests); link state and
// speed, and a Raspberry Pi's model, revision and serial, from the files
// the kernel documents for them (sysfs-class-net; the device tree and
// /proc/cpuinfo of the Pi's firmware).

// inventoryEndpoint is bootfs.InventoryEndpoint.
const inventoryEndpoint = "inventory"

// inventory is boot.Inventory as bootd takes it (the same JSON names).
type inventory struct {
	Vendor      string `json:"vendor,omitempty"`
	Model       string `json:"model,omitempty"`
	Serial      string `json:"serial,omitempty"`
	BIOSVersion string `json:"bios_version,omitempty"`
	PiRevision  string `json:"pi_revision,omitempty"`
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model,omitempty"`
	MemoryBytes int64  `json:"memory_bytes"`
	NICs        []nic  `json:"nics,omitempty"`
	Disks       []disk `json:"disks,omitempty"`
}

type nic struct {
	Name      string `json:"name"`
	MAC       string `json:"mac"`
	Link      bool   `json:"link"`
	SpeedMbps int    `json:"speed_mbps,omitempty"`
}

type disk struct {
	Name      string `json:"name"`
	SizeBytes int64  `json:"size_bytes"`
	Model     string `json:"model,omitempty"`
}

// notDisks are block devices that are not the machine's own disks.
var notDisks = []string{"rbd", "loop", "ram", "zram", "nbd", "sr", "dm-", "md"}

// collectInventory reads the machine's hardware. What cannot be read is
// left out: an inventory is information, never a reason to stop a boot.
func (e *env) collectInventory() inventory {
	opts := []any{ghw.WithDisableWarnings(), ghw.WithDisableTools()}
	if e.root != "" {
		opts = append(opts, ghw.WithChroot(e.root))
	}
	var inv inventory
	known := func(s string) string {
		if s == "unknown" || s == "None" || s == "Not Specified" {
			return ""
		}
		return s
	}
	if p, err := ghw.Product(opts...); err == nil {
		inv.Vendor, inv.Model, inv.Serial = known(p.Vendor), known(p.Name), known(p.SerialNumber)
	}
	if b, err := ghw.BIOS(opts...); err == nil {
		inv.BIOSVersion = known(b.Version)
	}
	if c, err := ghw.CPU(opts...); err == nil {
		inv.CPUs = int(c.TotalHardwareThreads)
		if len(c.Processors) > 0 {
			inv.CPUModel = known(c.Processors[0].Model)
		}
	}
	if m, err := ghw.Memory(opts...); err == nil {
		inv.MemoryBytes = m.TotalPhysicalBytes
	}
	if n, err := ghw.Network(opts...); err == nil {
		for _, c := range n.NICs {
			if c.IsVirtual || c.MACAddress == "" {
				continue
			}
			inv.NICs = append(inv.NICs, nic{Name: c.Name, MAC: c.MACAddress,
				Link:      e.sysText("/sys/class/net/"+c.Name+"/carrier") == "1",
				SpeedMbps: max(0, e.sysInt("/sys/class/net/"+c.Name+"/speed"))})
		}
	}
	if b, err := ghw.Block(opts...); err == nil {
	disks:
		for _, d := range b.Disks {
			for _, p := range notDisks {
				if strings.HasPrefix(d.Name, p) {
					continue disks
				}
			}
			inv.Disks = append(inv.Disks, disk{Name: d.Name, SizeBytes: int64(d.SizeBytes), Model: known(d.Model)})
		}
	}
	e.piInventory(&inv)
	return inv
}

// piInventory fills in a Raspberry Pi's model, board revision and serial:
// the device tree's model, and /proc/cpuinfo's Revision and Serial lines.
func (e *env) piInventory(inv *inventory) {
	model := strings.TrimRight(e.sysText("/proc/device-tree/model"), "\x00")
	if !strings.HasPrefix(model, "Raspberry Pi") {
		return
	}
	inv.Model = model
	f, err := os.Open(e.path("/proc/cpuinfo"))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Revision":
			inv.PiRevision = strings.TrimSpace(v)
		case "Serial":
			inv.Serial = strings.TrimSpace(v)
		}
	}
}

// sysText is a small kernel file's text, trimmed; "" when it cannot be read.
func (e *env) sysText(p string) string {
	b, err := os.ReadFile(e.path(filepath.Clean(p)))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// sysInt is a kernel file's integer; -1 when there is none.
func (e *env) sysInt(p string) int {
	n, err := strconv.Atoi(e.sysText(p))
	if err != nil {
		return -1
	}
	return n
}

// sendInventory collects the inventory and sends it with the boot's report
// secret saved by map (bootd-init inventory; map sends it itself).
func (e *env) sendInventory(ctx context.Context) error {
	cl, err := e.client()
	if err != nil {
		return err
	}
	return e.postInventory(ctx, cl)
}

// postInventory collects the inventory and sends it with cl; bootd takes
// one a boot, after the key.
func (e *env) postInventory(ctx context.Context, cl *client) error {
	inv := e.collectInventory()
	b, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	if _, err := cl.do(ctx, http.MethodPost, "/"+inventoryEndpoint, url.Values{"inventory": {string(b)}, "auth": {cl.auth}}); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	e.say("hardware reported: %d CPUs, %d MiB, %d NICs, %d disks", inv.CPUs, inv.MemoryBytes>>20, len(inv.NICs), len(inv.Disks))
	return nil
}
