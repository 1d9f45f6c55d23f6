// The storms run without the race detector (make unit runs them in a
// second, plain go test): under it, the servers' per-packet code runs
// several times slower and the storms would take many minutes.

//go:build !race

package main

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs/bootfstest"
)

// Boot storms: many machines fetch the same big file at once, each with a
// real client (curl), and every byte is checked. Not parallel with other
// tests, so each storm has the machine's two cores to itself. Each client
// has an address of its own (127.0.1.N), as the machines of a rack do: the
// per-client caps must not refuse a storm.
const stormClients = 200

// TestStormTFTP: 200 concurrent TFTP downloads of a 30 MiB kernel at
// blksize 1468 (an Ethernet MTU).
func TestStormTFTP(t *testing.T) {
	d := startDelivery(t, bootfstest.Options{KernelSize: 30 << 20})
	url := "tftp://" + d.tftpAddr + "/52-54-00-12-34-56/kernel"
	storm(t, d.fx.Want["x86/kernel"], func(src string) *exec.Cmd {
		return exec.Command("curl", "-sS", "--max-time", "600", "--interface", src, "--tftp-blksize", "1468", url)
	})
	checkStormEvents(t, d, boot.StageTFTP, boot.Fetch{Transport: boot.TFTP, File: "52-54-00-12-34-56/kernel", Outcome: boot.FetchDone, Bytes: 30 << 20})
}

// TestStormHTTP: 200 concurrent HTTP downloads of a 64 MiB initrd.
func TestStormHTTP(t *testing.T) {
	d := startDelivery(t, bootfstest.Options{InitrdSize: 64 << 20})
	url := d.http.URL + "/boot/52-54-00-12-34-56/initrd/0"
	storm(t, d.fx.Want["x86/initrd/0"], func(src string) *exec.Cmd {
		return exec.Command("curl", "-fsS", "--max-time", "600", "--interface", src, url)
	})
	checkStormEvents(t, d, boot.StageInitrd, boot.Fetch{Transport: boot.HTTP, File: "initrd/0", Outcome: boot.FetchDone, Bytes: 64 << 20})
}

// storm runs stormClients clients at once, each writing the file to its
// standard output, and compares every byte with want as it streams in.
func storm(t *testing.T, want []byte, client func(src string) *exec.Cmd) {
	t.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, stormClients)
	for i := range stormClients {
		cmd := client(fmt.Sprintf("127.0.1.%d", i+1))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, same := compare(out, want)
			err := cmd.Wait()
			switch {
			case err != nil:
				errs <- fmt.Errorf("client %d: %v after %d bytes: %s", i, err, n, stderr.String())
			case !same || n != int64(len(want)):
				errs <- fmt.Errorf("client %d: got %d bytes (identical prefix: %v), want %d identical ones", i, n, same, len(want))
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d clients failed", failed, stormClients)
	}
	took := time.Since(start)
	t.Logf("%d clients x %d MiB in %s (%.0f MiB/s in all)", stormClients, len(want)>>20, took.Round(time.Millisecond),
		float64(stormClients*len(want))/(1<<20)/took.Seconds())
}

// compare reads r to its end, checking it against want; it returns how
// many bytes it read and whether they all matched.
func compare(r io.Reader, want []byte) (int64, bool) {
	buf := make([]byte, 256<<10)
	var n int64
	same := true
	for {
		k, err := r.Read(buf)
		if k > 0 {
			if n+int64(k) > int64(len(want)) || !bytes.Equal(buf[:k], want[n:n+int64(k)]) {
				same = false
			}
			n += int64(k)
		}
		if err != nil {
			return n, same
		}
	}
}

// checkStormEvents checks that every download landed in the node's timeline,
// as a fetch like want or folded into one (Fetch.Repeats).
func checkStormEvents(t *testing.T, d *delivery, stage boot.Stage, want boot.Fetch) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		boots, err := d.fx.Service.Timeline(t.Context(), bootfstest.MAC(bootfstest.X86))
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for _, b := range boots {
			for _, ev := range b.Events {
				if f := ev.Fetch; ev.Stage == stage && f != nil && f.Transport == want.Transport &&
					f.File == want.File && f.Outcome == want.Outcome && f.Bytes == want.Bytes {
					count += 1 + f.Repeats
				}
			}
		}
		// 200 machines finishing together outrun the timeline's queue for
		// one node (boot.soonPerNode): what it drops is counted, not lost.
		dropped := int(d.fx.Service.DroppedEvents())
		if count+dropped == stormClients {
			t.Logf("timeline: %d fetch events recorded, %d dropped and counted", count, dropped)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeline has %d events like %q and %d dropped, want %d in all", count, want, dropped, stormClients)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
