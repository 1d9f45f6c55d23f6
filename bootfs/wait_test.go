package bootfs_test

import (
	"context"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

// TestWaitScript: while Ceph cannot take boots, a node with a volume gets
// a script that says why, sleeps between Retry and twice Retry seconds,
// asks for its script again and boots nothing; its timeline says it waits,
// once. When Ceph is back, the same request gets the boot script.
func TestWaitScript(t *testing.T) {
	t.Parallel()
	f, svc := rbdFixture(t)
	ctx := context.Background()
	mac := mustMAC(t, rbdDeb)
	svc.SetCephHealth(boot.CephHealth{Reason: "the pool takes no write (${evil})"})
	read := func() string {
		t.Helper()
		c, err := f.Node(ctx, mac, "boot.ipxe", net.IP(rbdAddr.AsSlice()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		return string(b)
	}
	for range 3 {
		s := read()
		m := regexp.MustCompile(`(?m)^sleep (\d+)$`).FindStringSubmatch(s)
		if !strings.HasPrefix(s, "#!ipxe\n") || m == nil || !strings.Contains(s, "chain --replace --autofree boot.ipxe") ||
			strings.Contains(s, "kernel ") || strings.Contains(s, "initrd ") || !strings.Contains(s, "waiting for Ceph: the pool takes no write") ||
			strings.Contains(s, "${") {
			t.Fatalf("wait script:\n%s", s)
		}
		if n, _ := strconv.Atoi(m[1]); n < 10 || n > 20 {
			t.Errorf("sleeps %d s, want 10 to 20 (Retry and a random share)", n)
		}
	}
	if got := svc.WaitScripts(boot.WaitCeph); got != 3 {
		t.Errorf("wait scripts counted %d, want 3", got)
	}
	svc.Flush(ctx)
	waits := 0
	boots, _ := svc.Timeline(ctx, mac)
	for _, b := range boots {
		for _, ev := range b.Events {
			if strings.Contains(ev.Text(), "waiting for Ceph") {
				waits++
			}
		}
	}
	if waits != 1 {
		t.Errorf("timeline has %d waiting events, want 1 for three retries", waits)
	}
	svc.SetCephHealth(boot.CephHealth{OK: true})
	if s := read(); !strings.Contains(s, "kernel ") {
		t.Errorf("after Ceph is back, the script boots nothing:\n%s", s)
	}
}

// TestPiNotToldToWait: a Raspberry Pi's firmware runs no script, so while
// Ceph cannot take boots its config.txt and cmdline.txt are served as ever,
// the latter with its token: the Pi boots its kernel and waits at its key
// (bootd-init, TestKeyWaitsForCeph).
func TestPiNotToldToWait(t *testing.T) {
	t.Parallel()
	f, svc := rbdFixture(t)
	ctx := context.Background()
	svc.SetCephHealth(boot.CephHealth{Reason: "monitors do not answer"})
	for name, want := range map[string]string{"config.txt": "kernel=", "cmdline.txt": "bootd.token="} {
		c, err := f.Node(ctx, mustMAC(t, rbdPi), name, net.IP(rbdAddr.AsSlice()))
		if err != nil {
			t.Fatalf("%s while Ceph is down: %v", name, err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if !strings.Contains(string(b), want) || strings.Contains(string(b), "waiting") {
			t.Errorf("%s while Ceph is down lacks %q:\n%s", name, want, b)
		}
	}
	if got := svc.WaitScripts(boot.WaitCeph); got != 0 {
		t.Errorf("wait scripts counted for a Pi: %d", got)
	}
}
