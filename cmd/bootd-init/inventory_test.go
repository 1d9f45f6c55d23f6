package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs"
)

// TestInventoryOfThisMachine reads the machine the test runs on: its CPU
// count is Go's, its memory at least what /proc/meminfo says the kernel
// has (and not a quarter more), and each of its physical NICs is listed
// with its MAC.
func TestInventoryOfThisMachine(t *testing.T) {
	t.Parallel()
	e := &env{out: os.Stderr}
	inv := e.collectInventory()
	if inv.CPUs != runtime.NumCPU() {
		t.Errorf("CPUs = %d, want %d", inv.CPUs, runtime.NumCPU())
	}
	total := memTotal(t)
	if inv.MemoryBytes < total || inv.MemoryBytes > total+total/4 {
		t.Errorf("memory = %d bytes, want between MemTotal %d and a quarter more", inv.MemoryBytes, total)
	}
	ents, _ := os.ReadDir("/sys/class/net")
	for _, ent := range ents {
		if _, err := os.Stat(filepath.Join("/sys/class/net", ent.Name(), "device")); err != nil {
			continue // virtual: lo, bridges, veths
		}
		mac := e.sysText("/sys/class/net/" + ent.Name() + "/address")
		found := false
		for _, n := range inv.NICs {
			found = found || (n.Name == ent.Name() && n.MAC == mac)
		}
		if !found {
			t.Errorf("NIC %s (%s) missing from %+v", ent.Name(), mac, inv.NICs)
		}
	}
	for _, d := range inv.Disks {
		if strings.HasPrefix(d.Name, "loop") || strings.HasPrefix(d.Name, "rbd") {
			t.Errorf("disk %s listed: it is not the machine's own", d.Name)
		}
	}
}

func memTotal(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no MemTotal")
	return 0
}

// TestInventoryOfAPi reads a Raspberry Pi's model from its device tree and
// its revision and serial from /proc/cpuinfo (a root made as the Pi 4's
// kernel shows them).
func TestInventoryOfAPi(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.4\x00",
		"proc/cpuinfo":           "processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\nRevision\t: c03114\nSerial\t\t: 10000000a1b2c3d4\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n",
	})
	inv := (&env{root: root, out: os.Stderr}).collectInventory()
	if inv.Model != "Raspberry Pi 4 Model B Rev 1.4" || inv.PiRevision != "c03114" || inv.Serial != "10000000a1b2c3d4" {
		t.Errorf("Pi inventory = model %q, revision %q, serial %q", inv.Model, inv.PiRevision, inv.Serial)
	}
}

// TestInventorySent: bootd-init inventory posts what it read, in the shape
// bootd decodes (boot.Inventory), to bootfs's inventory endpoint, with the
// boot's report secret.
func TestInventorySent(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got boot.Inventory
	var auth string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != bootfs.NewLayout("").File(testMAC, bootfs.InventoryEndpoint) || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		auth = r.FormValue("auth")
		if err := json.Unmarshal([]byte(r.FormValue("inventory")), &got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	root := fakeNode(t, srv.URL, "tok", pin(srv))
	writeFiles(t, root, map[string]string{reportSecretFile[1:]: "secret42\n", "proc/device-tree/model": "Raspberry Pi 4 Model B\x00",
		"proc/cpuinfo": "Revision\t: d03115\nSerial\t: 100000001234abcd\n"})
	e := &env{root: root, out: os.Stderr, deviceWait: time.Second}
	if err := e.sendInventory(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if auth != "secret42" || got.PiRevision != "d03115" || got.Serial != "100000001234abcd" || got.Model != "Raspberry Pi 4 Model B" {
		t.Errorf("bootd got %+v with auth %q", got, auth)
	}
}
