package web

import (
	"fmt"
	"html/template"
	"time"

	"github.com/bootd/bootd/boot"
)

// The functions the dashboard's templates call: words for states and
// stages, times, sizes.

func (d *dashboard) funcs() template.FuncMap {
	return template.FuncMap{
		"asset":      func(name string) string { return d.assets[name] },
		"stateIcon":  stateIcon,
		"stageLabel": stageLabel,
		"stageIcon":  stageIcon,
		"iso":        func(t time.Time) string { return t.Format(time.RFC3339) },
		"full":       func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") },
		"short":      d.shortTime,
		"ago":        d.ago,
		"elapsed":    elapsed,
		"took":       took,
		"size":       formatSize,
		"dash":       dash,
		"dict":       dict,
		"states":     func() []boot.State { return listStates },
	}
}

// stateIcon is the symbol shown before a state's name, so that a state
// reads without its colour.
func stateIcon(s boot.State) string {
	switch s {
	case boot.StateUp:
		return "●"
	case boot.StateFailed:
		return "✕"
	case boot.StateBooting:
		return "◐"
	case boot.StateEnrolled:
		return "○"
	case boot.StateDiscovered:
		return "?"
	default:
		return "–"
	}
}

// stageLabel names a boot stage for operators.
func stageLabel(s boot.Stage) string {
	if l, ok := map[boot.Stage]string{
		boot.StageDHCP: "DHCP", boot.StageTFTP: "TFTP", boot.StageLoader: "boot loader", boot.StageScript: "boot script",
		boot.StageKernel: "kernel", boot.StageInitrd: "initrd", boot.StageNetwork: "network up",
		boot.StageKey: "key fetched", boot.StageVolume: "volume mapped", boot.StageRoot: "root mounted",
		boot.StageFailed: "failed",
	}[s]; ok {
		return l
	}
	return string(s)
}

func stageIcon(s boot.Stage) string {
	switch s {
	case boot.StageFailed:
		return "✕"
	case boot.StageRoot:
		return "✓"
	default:
		return "→"
	}
}

// shortTime is the clock time for today, the date too before.
func (d *dashboard) shortTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t, now := t.Local(), d.now().Local()
	if y, m, dd := t.Date(); y == now.Year() && m == now.Month() && dd == now.Day() {
		return t.Format("15:04:05")
	}
	if t.Year() == now.Year() {
		return t.Format("Jan 2 15:04")
	}
	return t.Format("2006-01-02")
}

// ago says how long ago t was, in the largest unit that fits.
func (d *dashboard) ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	s := d.now().Sub(t)
	switch {
	case s < 0:
		return "just now"
	case s < time.Minute:
		return fmt.Sprintf("%d s ago", int(s.Seconds()))
	case s < time.Hour:
		return fmt.Sprintf("%d min ago", int(s.Minutes()))
	case s < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(s.Hours()))
	default:
		return fmt.Sprintf("%d days ago", int(s.Hours()/24))
	}
}

// elapsed is the time since a boot's first event: +0.4 s, +12 s, +3 min 5 s.
func elapsed(d time.Duration) string { return "+" + took(d) }

// took says how long something took: 0.4 s, 12 s, 3 min 5 s.
func took(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	default:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
}

func formatSize(n int64) string {
	if n <= 0 {
		return "—"
	}
	return boot.FormatSize(n)
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// dict builds a map from key, value pairs, for passing several values to a
// template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
