package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/boottest"
	"github.com/chromedp/chromedp"
)

// The dashboard in a real browser: Debian's headless Chromium, driven over
// the DevTools protocol by chromedp, against a bootd on a loopback port.
// Screenshots go to $BOOTD_SCREENSHOTS when set (docs/dashboard.png comes
// from there), else to a temporary folder.

// chromiumPath finds Debian's chromium; make deps installs it
// (scripts/deps.d/dashboard.txt).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: run make deps (scripts/deps.d/dashboard.txt lists it)")
	return ""
}

// browserContext starts a headless Chromium that reaches nothing but what
// the test points it at: without these flags it tries the network at start
// and hangs on a closed one.
// spki is the base64 SHA-256 of the admin certificate's public key: the
// one certificate it trusts besides the system's.
func browserContext(t *testing.T, spki string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	return bctx
}

// screenshotDir is where the test saves its screenshots.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BOOTD_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot saves the whole page as dir/name.png.
func screenshot(dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// into runs a and keeps its value in dst.
func into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
		*dst, err = a(ctx, t)
		return err
	})
}

// seedRack fills bootd with a small rack in every state, for the screenshots.
func seedRack(t *testing.T, svc *boot.Service) {
	t.Helper()
	ctx := t.Context()
	now := time.Now()
	full := []boot.Stage{boot.StageDHCP, boot.StageTFTP, boot.StageDHCP, boot.StageScript, boot.StageKernel,
		boot.StageInitrd, boot.StageNetwork, boot.StageKey, boot.StageVolume, boot.StageRoot}
	rack := []struct {
		mac, host, image string
		upTo             int // how many stages of full it reached
		fail             string
	}{
		{"52:54:00:10:00:01", "web1", "debian-12", len(full), ""},
		{"52:54:00:10:00:02", "web2", "debian-12", len(full), ""},
		{"52:54:00:10:00:03", "db1", "debian-12", 8, "rbd: map failed: (110) Connection timed out"},
		{"52:54:00:10:00:04", "cache1", "alpine-3.20", 5, ""},
		{"52:54:00:10:00:05", "build1", "alpine-3.20", 0, ""},
	}
	for i, n := range rack {
		mac, err := boot.ParseMAC(n.mac)
		if err != nil {
			t.Fatal(err)
		}
		arch := map[bool]string{true: "x64-uefi", false: "x86-bios"}[i%2 == 0]
		if _, err := svc.Discover(ctx, boot.Sighting{MAC: mac, Arch: arch}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: n.image, Hostname: n.host}); err != nil {
			t.Fatal(err)
		}
		start := now.Add(-time.Duration(10*(len(rack)-i)) * time.Minute)
		for j, st := range full[:n.upTo] {
			ev := boot.Event{Stage: st, Time: start.Add(time.Duration(j) * 1700 * time.Millisecond), Source: fmt.Sprintf("198.18.0.%d", 10+i)}
			if _, err := svc.Record(ctx, mac, ev); err != nil {
				t.Fatal(err)
			}
		}
		if n.fail != "" {
			if _, err := svc.Record(ctx, mac, boot.Event{Stage: boot.StageFailed, Detail: n.fail, Time: start.Add(20 * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := svc.SetNetboot(ctx, boot.MAC{0x52, 0x54, 0, 0x10, 0, 5}, false); err != nil {
		t.Fatal(err)
	}
	pi := boot.Sighting{MAC: boot.MAC{0xdc, 0xa6, 0x32, 0x01, 0x02, 0x03}, Arch: "rpi4", Addr: net.IPv4(198, 18, 0, 40)}
	if _, err := svc.Discover(ctx, pi); err != nil {
		t.Fatal(err)
	}
}

// TestDashboardInChromium drives the dashboard over TLS as an operator:
// log in with a user name and password, enroll, follow a boot live, take a
// snapshot, reimage, protect a golden snapshot; then find those actions,
// by that user, on the audit page.
func TestDashboardInChromium(t *testing.T) {
	t.Parallel()
	vols := boottest.NewVolumes()
	d := startInProcess(t, vols)
	seedRack(t, d.svc)
	const user, password = "olivia", "operator's own password"
	if _, err := d.users.AddUser(t.Context(), user, access.RoleOperator, password); err != nil {
		t.Fatal(err)
	}
	shots := screenshotDir(t)
	const mac = "52:54:00:aa:bb:cc"
	m, _ := boot.ParseMAC(mac)
	seen := boot.Sighting{MAC: m, Arch: "x64-uefi", VendorClass: "PXEClient:Arch:00007:UNDI:003016", Addr: net.IPv4(198, 18, 0, 99)}
	if _, err := d.svc.Discover(t.Context(), seen); err != nil {
		t.Fatal(err)
	}
	ctx := browserContext(t, d.spki)
	row := `tr[data-mac="` + mac + `"]`
	if err := chromedp.Do(ctx); err != nil { // start the browser on the long-lived context
		t.Fatalf("start chromium: %v", err)
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a step that waits in vain fails
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}

	var loc, rowText string
	run("log in",
		chromedp.Navigate(d.url+"/machines"),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
		into(&loc, chromedp.Location()),
		chromedp.SendKeys(chromedp.CSS(`#user`), user),
		chromedp.SendKeys(chromedp.CSS(`#secret`), password),
		chromedp.Click(chromedp.CSS(`.login button`)),
		chromedp.WaitVisible(chromedp.CSS(`table.discovered `+row)),
	)
	if !strings.Contains(loc, "/login?next=%2Fmachines") {
		t.Errorf("the machines page without a session went to %s, want the login page", loc)
	}

	run("enroll the discovered machine",
		chromedp.SetValue(chromedp.CSS(row+` select[name="image"]`), "debian-12"),
		chromedp.SendKeys(chromedp.CSS(row+` input[name="hostname"]`), "web7"),
		chromedp.Click(chromedp.CSS(row+` button`)),
		chromedp.WaitVisible(chromedp.CSS(`table.nodes `+row+`.fresh`)),
		into(&rowText, chromedp.Text(chromedp.CSS(`table.nodes `+row))),
	)
	for _, want := range []string{"web7", "debian-12", "enrolled", "x64-uefi"} {
		if !strings.Contains(rowText, want) {
			t.Errorf("the enrolled machine's row %q lacks %q", rowText, want)
		}
	}
	run("machines page", chromedp.WaitVisible(chromedp.CSS(`body[data-live-state="open"]`)), screenshot(shots, "machines"))

	// The machine's page: boot events recorded now appear without a reload.
	run("machine page",
		chromedp.Navigate(d.url+"/machines/"+mac),
		chromedp.WaitVisible(chromedp.CSS(`body[data-live-state="open"]`)),
		into(new(bool), chromedp.Evaluate[bool](`window.notReloaded = true`)),
	)
	record := func(st boot.Stage, detail string) {
		t.Helper()
		if _, err := d.svc.Record(t.Context(), m, boot.Event{Stage: st, Source: "198.18.0.99", Detail: detail}); err != nil {
			t.Fatal(err)
		}
	}
	record(boot.StageDHCP, "")
	var state string
	run("first event appears live",
		chromedp.WaitVisible(chromedp.CSS(`#boot-1 tr.sg-dhcp`)),
		into(&state, chromedp.Text(chromedp.CSS(`#node-state`))),
	)
	if !strings.Contains(state, "booting") {
		t.Errorf("state after DHCP = %q, want booting", state)
	}
	for _, st := range []boot.Stage{boot.StageTFTP, boot.StageScript, boot.StageKernel, boot.StageInitrd,
		boot.StageNetwork, boot.StageKey, boot.StageVolume, boot.StageRoot} {
		time.Sleep(150 * time.Millisecond) // a boot takes time; let the page show its steps
		record(st, "")
	}
	var notReloaded bool
	run("boot reaches root live",
		chromedp.WaitVisible(chromedp.CSS(`#boot-1 tr.sg-root`)),
		into(&state, chromedp.Text(chromedp.CSS(`#node-state`))),
		into(&notReloaded, chromedp.Evaluate[bool](`window.notReloaded === true`)),
		screenshot(shots, "machine"),
	)
	if !strings.Contains(state, "up") || !notReloaded {
		t.Errorf("after root: state %q, page kept (not reloaded) %v; want up, true", state, notReloaded)
	}

	// The machine reports its hardware after its key (as bootd-init does);
	// the page shows it.
	addr := netip.MustParseAddr("198.18.0.99")
	d.svc.SawLease(m, addr, true, false)
	tok, err := d.svc.IssueBootToken(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	grant, err := d.svc.RedeemBootKey(t.Context(), m, tok, addr)
	if err != nil {
		t.Fatal(err)
	}
	inv := boot.Inventory{Vendor: "Dell Inc.", Model: "PowerEdge R630", Serial: "7XK9J42", CPUs: 48, MemoryBytes: 256 << 30,
		NICs: []boot.NIC{{Name: "eno1", MAC: mac, Link: true, SpeedMbps: 10000}}}
	if err := d.svc.ReportInventory(t.Context(), m, inv, grant.Report, addr); err != nil {
		t.Fatal(err)
	}
	var hw string
	run("hardware",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`#hw-memory`)),
		into(&hw, chromedp.Text(chromedp.CSS(`#hardware`))),
	)
	for _, want := range []string{"PowerEdge R630", "7XK9J42", "48", "256G", "eno1", mac, "10000 Mb/s", "none: diskless"} {
		if !strings.Contains(hw, want) {
			t.Errorf("hardware section %q lacks %q", hw, want)
		}
	}

	// A snapshot with a name, listed once taken.
	var done string
	run("snapshot",
		chromedp.SendKeys(chromedp.CSS(`#snapshot-name`), "before-upgrade"),
		chromedp.Click(chromedp.CSS(`#take-snapshot`)),
		chromedp.WaitVisible(chromedp.CSS(`#snapshots tr[data-snapshot="before-upgrade"]`)),
		into(&done, chromedp.Text(chromedp.CSS(`.flash.ok`))),
	)
	if !strings.Contains(done, "Its name: before-upgrade") {
		t.Errorf("after the snapshot: message %q", done)
	}

	// Reimage, through its confirmation page, keeping the old volume.
	before := vols.Creates()
	run("reimage",
		chromedp.Click(chromedp.CSS(`#reimage`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.Click(chromedp.CSS(`#old-keep`)),
		chromedp.SendKeys(chromedp.CSS(`#keep-name`), "old-root"),
		screenshot(shots, "confirm"),
		chromedp.Click(chromedp.CSS(`#confirm`)),
		chromedp.WaitVisible(chromedp.CSS(`#snapshots tr[data-snapshot="old-root"]`)),
		into(&done, chromedp.Text(chromedp.CSS(`.flash.ok`))),
		into(&state, chromedp.Text(chromedp.CSS(`#node-state`))),
		screenshot(shots, "machine-volume"),
	)
	if !strings.Contains(done, "Reimaged "+mac) || vols.Creates() != before+1 || !strings.Contains(state, "enrolled") {
		t.Errorf("after reimage: message %q, %d volumes created (want %d), state %q", done, vols.Creates(), before+1, state)
	}

	// The images page: an unprotected golden snapshot, protected with a click.
	alpine, err := d.svc.Image(t.Context(), "alpine-3.20")
	if err != nil {
		t.Fatal(err)
	}
	vols.SetGolden(alpine.Golden, fmt.Errorf("%w: %s", boot.ErrUnprotected, alpine.Golden))
	var golden string
	run("protect a golden snapshot",
		chromedp.Navigate(d.url+"/images"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-image="alpine-3.20"] .gs-unprotected`)),
		screenshot(shots, "images"),
		chromedp.Click(chromedp.CSS(`tr[data-image="alpine-3.20"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash.ok`)),
		into(&golden, chromedp.Text(chromedp.CSS(`tr[data-image="alpine-3.20"] .state`))),
	)
	if !strings.Contains(golden, "protected") || strings.Contains(golden, "not") {
		t.Errorf("after protect: alpine's golden snapshot is %q, want protected", golden)
	}

	// The discover window: opened for ten minutes with a click.
	var window string
	run("open the discover window",
		chromedp.Navigate(d.url+"/machines"),
		chromedp.WaitVisible(chromedp.CSS(`#discover-window button[value="10m"]`)),
		chromedp.Click(chromedp.CSS(`#discover-window button[value="10m"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash.ok`)),
		into(&window, chromedp.Text(chromedp.CSS(`#discover-window`))),
	)
	if !strings.Contains(window, "Discover window open until") {
		t.Errorf("after opening: the discover window says %q", window)
	}

	// The audit page: the operator's actions, newest first, by name.
	var audit string
	run("audit page",
		chromedp.Navigate(d.url+"/audit"),
		chromedp.WaitVisible(chromedp.CSS(`table.audit tr[data-action="enroll"]`)),
		into(&audit, chromedp.Text(chromedp.CSS(`table.audit tbody`))),
		screenshot(shots, "audit"),
	)
	for _, action := range []string{"enroll", "snapshot", "reimage", "golden.protect", "discover", "login"} {
		var rowText string
		run("audit row "+action, into(&rowText, chromedp.Text(chromedp.CSS(`table.audit tr[data-action="`+action+`"]`))))
		if !strings.Contains(rowText, user) || !strings.Contains(rowText, "dashboard") || !strings.Contains(rowText, "ok") {
			t.Errorf("audit row of %s = %q, want it by %s through the dashboard, ok", action, rowText, user)
		}
		if action == "enroll" && !strings.Contains(rowText, mac) {
			t.Errorf("audit row of enroll = %q, want the machine %s", rowText, mac)
		}
	}

	run("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(d.url+"/machines"),
		chromedp.WaitVisible(chromedp.CSS(`table.nodes`)), screenshot(shots, "machines-phone"))
	t.Logf("screenshots in %s", shots)
}
