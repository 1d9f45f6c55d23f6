package boot

import (
	"strings"
	"testing"
	"time"
)

// TestFirmwareRefusedLoader: a firmware that asks DHCP again soon after it
// fetched iPXE did not run it, and the timeline says why; iPXE asking
// (it runs), or the firmware asking much later, says nothing.
func TestFirmwareRefusedLoader(t *testing.T) {
	t.Parallel()
	r := newKeyRig(t, KeyReleaseLease)
	warnings := func() []string {
		var out []string
		for _, ev := range r.events(t) {
			if ev.Stage == StageWarning {
				out = append(out, ev.Detail)
			}
		}
		return out
	}
	r.s.LoaderFetched(testMAC, "snponly.efi")
	r.s.FirmwareAsked(r.ctx, testMAC, true) // iPXE runs
	r.s.FirmwareAsked(r.ctx, testMAC, false)
	if w := warnings(); len(w) != 0 {
		t.Fatalf("warnings after iPXE asked = %q, want none", w)
	}
	r.s.LoaderFetched(testMAC, "snponly.efi")
	*r.now = r.now.Add(loaderRefusedWithin + time.Second)
	r.s.FirmwareAsked(r.ctx, testMAC, false)
	if w := warnings(); len(w) != 0 {
		t.Fatalf("warnings after a late firmware exchange = %q, want none", w)
	}
	r.s.LoaderFetched(testMAC, "snponly.efi")
	*r.now = r.now.Add(5 * time.Second)
	r.s.FirmwareAsked(r.ctx, testMAC, false)
	r.s.FirmwareAsked(r.ctx, testMAC, false) // once per fetch
	w := warnings()
	if len(w) != 1 || !strings.Contains(w[0], "snponly.efi") || !strings.Contains(w[0], "Secure Boot") {
		t.Errorf("warnings = %q, want one naming snponly.efi and Secure Boot", w)
	}
}
