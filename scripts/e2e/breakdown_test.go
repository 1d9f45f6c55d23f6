//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// milestone is one moment of a boot: a timeline event bootd recorded or a
// console line the harness saw, with its time on the host's clock.
type milestone struct {
	at   time.Time
	from string // "bootd" or "console"
	what string
}

// consoleMarks are the console lines worth a row in a breakdown: the
// firmware's and iPXE's DHCP, the kernel's start, the initramfs, the root.
var consoleMarks = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`iPXE initialising|iPXE \d`), "iPXE starts"},
	{regexp.MustCompile(`Configuring \(net0`), "iPXE DHCP"},
	{regexp.MustCompile(`Linux version`), "kernel starts"},
	{regexp.MustCompile(`Run /init as init process`), "initramfs starts"},
	{regexp.MustCompile(`Begin: Running /scripts/init-premount`), "initramfs premount"},
	{regexp.MustCompile(`Link is Up`), "NIC link up (kernel)"},
	{regexp.MustCompile(`IP-Config: \S+ complete`), "ipconfig done"},
	{regexp.MustCompile(`bootd-init`), "bootd-init first line"},
	{regexp.MustCompile(`rbd: rbd0: `), "rbd0 mapped (kernel)"},
	{regexp.MustCompile(`EXT4-fs \(rbd0\): mounted`), "root mounted (kernel)"},
	{regexp.MustCompile(`Run /sbin/init|systemd\[1\]: `), "init on root"},
	{regexp.MustCompile(`BOOTD-MARKER`), "marker"},
}

// breakdown logs, for one boot of v, where the time went: bootd's timeline
// events of the node's newest boot (none when mac is empty, a local boot)
// and the console's milestones as the harness received them, in order, as
// seconds after power-on and after the previous row. Console times are when
// a line arrived, so the kernel's first lines show when its serial console
// came up (printk replays the earlier ones), after it decompressed itself.
func (r *rig) breakdown(t *testing.T, v *vm, mac, name string) {
	t.Helper()
	var tl struct {
		Boots []struct {
			Events []struct {
				Stage  string
				Time   time.Time
				Detail string
				Fetch  *struct {
					File     string
					Bytes    int64
					Duration time.Duration
				}
			}
		}
	}
	var ms []milestone
	if mac != "" && json.Unmarshal([]byte(r.cli(t, "timeline", mac, "-o", "json")), &tl) == nil && len(tl.Boots) > 0 {
		for _, ev := range tl.Boots[len(tl.Boots)-1].Events {
			what := ev.Stage
			if f := ev.Fetch; f != nil {
				what += fmt.Sprintf(" %s %d KiB in %.2fs", f.File, f.Bytes>>10, f.Duration.Seconds())
			} else if ev.Detail != "" {
				what += " " + ev.Detail
			}
			if len(what) > 70 {
				what = what[:70]
			}
			ms = append(ms, milestone{ev.Time, "bootd", what})
		}
	}
	v.mu.Lock()
	seen := map[string]bool{}
	for i, l := range v.console {
		for _, m := range consoleMarks {
			if !seen[m.what] && m.re.MatchString(l) {
				seen[m.what] = true
				ms = append(ms, milestone{v.at[i], "console", m.what})
			}
		}
	}
	v.mu.Unlock()
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].at.Before(ms[j].at) })
	var b strings.Builder
	fmt.Fprintf(&b, "breakdown of %s (s after power-on | s since previous row | source | what):\n", name)
	prev := v.started
	for _, m := range ms {
		fmt.Fprintf(&b, "  %6.2f | %5.2f | %-7s | %s\n", m.at.Sub(v.started).Seconds(), m.at.Sub(prev).Seconds(), m.from, m.what)
		prev = m.at
	}
	t.Log(b.String())
}
