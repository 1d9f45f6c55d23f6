package web

import (
	"net/http"
	"time"
)

// The discover window on the machines page: its state beside the
// discovered machines, and forms to open it for a while or close it. The
// same window as POST/DELETE /api/v1/discover and bootd discover.

// discoverLengths are the lengths the open form offers, shortest first.
var discoverLengths = []struct {
	Label string // the form's value and the button's text
	For   time.Duration
}{{"10m", 10 * time.Minute}, {"1h", time.Hour}, {"4h", 4 * time.Hour}}

// discoverView is the window as the machines page shows it; nil when bootd
// has no DHCP server with a window.
type discoverView struct {
	Open    bool
	Until   time.Time
	Lengths []string
}

func (d *dashboard) discoverView() *discoverView {
	if d.window == nil {
		return nil
	}
	v := &discoverView{Until: d.window.Until(d.now())}
	v.Open = !v.Until.IsZero()
	for _, l := range discoverLengths {
		v.Lengths = append(v.Lengths, l.Label)
	}
	return v
}

// discoverOpen answers POST /discover: open the window for the form's
// "for", one of the offered lengths.
func (d *dashboard) discoverOpen(w http.ResponseWriter, r *http.Request) error {
	want := r.PostForm.Get("for")
	for _, l := range discoverLengths {
		if l.Label == want {
			auditTarget(r, "for "+l.For.String())
			d.window.Open(d.now().Add(l.For))
			return seeOther(w, r, "/machines?done=discover-open#discovered")
		}
	}
	return badRequest("for: choose one of the lengths offered")
}

// discoverClose answers POST /discover/close.
func (d *dashboard) discoverClose(w http.ResponseWriter, r *http.Request) error {
	d.window.Close()
	return seeOther(w, r, "/machines?done=discover-closed#discovered")
}
