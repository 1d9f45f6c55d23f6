package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/tftp/tftptest"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// The caps docs/operations.md states for bootd under a TFTP flood with its
// default limits (512 transfers): descriptors and peak resident memory.
const (
	floodMaxFDs = 512 + 64
	floodMaxRSS = 256 << 20
)

// floodNetns names the environment variable that tells TestTFTPFlood it
// runs in its own network namespace.
const floodNetns = "FLOOD_IN_NETNS"

// TestTFTPFlood runs the real bootd (full DHCP on loopback, TFTP with the
// default limits) in a network namespace of its own, and sends 2,000 read
// requests from 500 addresses of 127.0.0.0/8 that never did DHCP and never
// answer (forged sources), while a machine that did DHCP fetches an 8 MiB
// file. The fetch completes whole; bootd's descriptors and peak memory stay
// under the documented caps; the bytes sent to the flood's addresses stay
// within three times the bytes they sent.
func TestTFTPFlood(t *testing.T) {
	if os.Getenv(floodNetns) == "" {
		if os.Getuid() != 0 {
			t.Skip("needs root for a network namespace")
		}
		cmd := exec.Command("unshare", "-n", os.Args[0], "-test.run", "^TestTFTPFlood$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), floodNetns+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("in a network namespace:\n%s", out)
		if err != nil {
			t.Fatalf("TestTFTPFlood in its namespace: %v", err)
		}
		return
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	dir := t.TempDir()
	kernel := make([]byte, 8<<20)
	rand.Read(kernel)
	if err := os.WriteFile(filepath.Join(dir, "snponly.efi"), kernel, 0o644); err != nil {
		t.Fatal(err)
	}
	d, tftpAddr := startServeDelivery(t, "--ipxe-dir", dir, "--dhcp-mode", "full", "--dhcp-interface", "lo",
		"--advertise", "127.0.0.1", "--dhcp-port", "1067", "--dhcp-pool-start", "127.64.0.10", "--dhcp-pool-end", "127.64.0.200")
	pid := d.cmd.Process.Pid
	ip := dora(t, "127.0.0.1:1067")
	t.Logf("DHCP gave %v", ip)

	var wg sync.WaitGroup
	var fetchErr error
	var got []byte
	start := time.Now()
	wg.Go(func() {
		time.Sleep(200 * time.Millisecond) // in the thick of the flood
		res, err := tftptest.Get(tftpAddr, "snponly.efi", tftptest.Options{From: ip, BlockSize: 1468, TSize: true, Resend: 3})
		fetchErr = err
		if res != nil {
			got = res.Data
		}
	})
	in, out, peakFDs := flood(t, tftpAddr, pid)
	wg.Wait()
	if fetchErr != nil || !bytes.Equal(got, kernel) {
		t.Errorf("the machine that did DHCP got %d of %d bytes: %v", len(got), len(kernel), fetchErr)
	}
	rss := procStatus(t, pid, "VmHWM")
	t.Logf("2,000 forged requests: %d bytes received, %d sent back (%.2f×); peak %d descriptors, peak RSS %d MiB; fetch done in %v",
		in, out, float64(out)/float64(in), peakFDs, rss>>20, time.Since(start).Round(time.Millisecond))
	if out > 3*in {
		t.Errorf("bootd sent %d bytes to addresses that never did DHCP, for %d received: more than 3×", out, in)
	}
	if peakFDs > floodMaxFDs || rss > floodMaxRSS {
		t.Errorf("peak descriptors %d, peak RSS %d MiB: want at most %d and %d MiB", peakFDs, rss>>20, floodMaxFDs, floodMaxRSS>>20)
	}
}

// flood sends 2,000 read requests (four from each of 500 addresses, of
// several shapes) and counts what comes back until the addresses have
// been quiet for two seconds, sampling bootd's descriptors meanwhile.
func flood(t *testing.T, server string, pid int) (in, out, peakFDs int) {
	sa, _ := net.ResolveUDPAddr("udp4", server)
	shapes := [][]byte{rrqBytes("snponly.efi"), rrqBytes("snponly.efi", "tsize", "0"),
		rrqBytes("snponly.efi", "blksize", "1468", "tsize", "0"), {0, 1, 0, 0}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
				mu.Lock()
				peakFDs = max(peakFDs, len(ents))
				mu.Unlock()
			}
		}
	}()
	for i := range 500 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 1, byte(i/250), byte(1+i%250))})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range shapes {
			c.WriteToUDP(p, sa)
			in += len(p)
		}
		wg.Go(func() {
			defer c.Close()
			buf := make([]byte, 65536)
			n := 0
			for {
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				m, _, err := c.ReadFromUDP(buf)
				if err != nil {
					break
				}
				n += m
			}
			mu.Lock()
			out += n
			mu.Unlock()
		})
	}
	wg.Wait()
	close(stop)
	mu.Lock()
	defer mu.Unlock()
	return in, out, peakFDs
}

func rrqBytes(name string, opts ...string) []byte {
	p := append([]byte{0, 1}, name...)
	p = append(append(p, 0), "octet\x00"...)
	for _, o := range opts {
		p = append(append(p, o...), 0)
	}
	return p
}

// procStatus is a field of /proc/<pid>/status in bytes (a "kB" value).
func procStatus(t *testing.T, pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// dora gets an address from bootd's full-mode DHCP at server as a
// network-booting machine behind a relay at 127.0.0.1:67 (RFC 2131 4.1:
// replies to a relayed request go to the relay's port 67).
func dora(t *testing.T, server string) net.IP {
	t.Helper()
	relay, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 67})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	sa, _ := net.ResolveUDPAddr("udp4", server)
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0xf1, 0x00, 0x01}
	ask := func(mt dhcpv4.MessageType, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
		mods = append([]dhcpv4.Modifier{dhcpv4.WithMessageType(mt), dhcpv4.WithGatewayIP(net.IPv4(127, 0, 0, 1)),
			dhcpv4.WithHwAddr(mac), dhcpv4.WithTransactionID(dhcpv4.TransactionID{1, 2, 3, byte(mt)}),
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003016")),
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64))}, mods...)
		p, err := dhcpv4.New(mods...)
		if err != nil {
			t.Fatal(err)
		}
		p.HopCount = 1
		if _, err := relay.WriteToUDP(p.ToBytes(), sa); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1500)
		relay.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := relay.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("DHCP %v: %v", mt, err)
		}
		r, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	offer := ask(dhcpv4.MessageTypeDiscover)
	ack := ask(dhcpv4.MessageTypeRequest, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(offer.ServerIdentifier())))
	if ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("DHCP REQUEST got %v", ack.MessageType())
	}
	return ack.YourIPAddr
}
