package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
)

// A machine's page: its settings, its volume (dashboard_volume.go), its
// boot timeline (live), and the actions on it. Actions that destroy data go
// through a confirmation page first (dashboard_confirm.go).

// machineData is a machine page's data.
type machineData struct {
	Node       *boot.Node
	Boots      []bootView // newest first
	Images     []*boot.Image
	HasVolumes bool
	Volume     *volumeView // when the machine has a volume and bootd a backend
	Enroll     enrollForm  // for a discovered machine
	// Replaceable are the enrolled machines a discovered one may replace.
	Replaceable []*boot.Node
	Errors      map[string]string // messages by action: image, netboot, snapshot
	Form        url.Values        // the values of a refused form, shown again
}

// bootView is one boot of a timeline as the page shows it.
type bootView struct {
	MAC    string
	Seq    int
	Start  time.Time
	Events []eventView
	Last   boot.Stage
	Took   time.Duration // from the first event to the last
	// Instances are the bootd instances that recorded the boot's events,
	// in order of their first event: one is named in the boot's heading,
	// more get a column.
	Instances []string
}

type eventView struct {
	boot.Event
	Elapsed time.Duration // since the boot's first event
}

func newBootView(mac boot.MAC, b boot.Boot) bootView {
	v := bootView{MAC: mac.String(), Seq: b.Seq}
	if len(b.Events) == 0 {
		return v
	}
	v.Start = b.Events[0].Time
	for _, ev := range b.Events {
		v.Events = append(v.Events, eventView{Event: ev, Elapsed: ev.Time.Sub(v.Start)})
		if ev.Instance != "" && !slices.Contains(v.Instances, ev.Instance) {
			v.Instances = append(v.Instances, ev.Instance)
		}
	}
	last := b.Events[len(b.Events)-1]
	v.Last, v.Took = last.Stage, last.Time.Sub(v.Start)
	return v
}

// doneMessage is the line a page shows after a successful action; name is
// the snapshot or kept volume the action made or used, if any.
func doneMessage(code string, mac boot.MAC, name string) string {
	if boot.ValidSnapshotName(name) != nil {
		name = "" // only a name bootd could have made is shown back
	}
	msg := map[string]string{
		"enrolled":      "Enrolled %s. It boots its image at its next network boot.",
		"forgotten":     "Forgot %s: its record and timeline are gone.",
		"assigned":      "Image assigned to %s. It takes effect at the next reimage.",
		"reimaged":      "Reimaged %s: its volume is a fresh clone of its image.",
		"reimaged-kept": "Reimaged %s: its volume is a fresh clone of its image; the old one is kept, listed with the snapshots.",
		"netboot-on":    "Netboot is on for %s: bootd answers its boot requests.",
		"netboot-off":   "Netboot is off for %s: its firmware boots its next device.",
		"netboot-once":  "Armed %s for one boot (an hour): its next boot may get its key.",
		"snapshot":      "Took a snapshot of %s's volume.",
		"rolled-back":   "Rolled %s's volume back: what was written since is gone.",
		"retired":       "Retired %s: its volume, snapshots and Ceph user are gone, and netboot is off. Forget removes its record.",
		"unfenced":      "Unfenced %s: the clients that held its volume are cut off, and it can boot.",
		"unfenced-none": "Nothing held %s's volume: there was nobody to cut off.",
		"replaced":      "%s took the place of the machine it replaces: it boots that disk, with a new key; the old MAC is retired.",
		"power-on":      "Powered %s on.",
		"power-off":     "Powered %s off.",
		"power-cycle":   "Power-cycled %s.",
	}[code]
	if msg == "" {
		return ""
	}
	msg = fmt.Sprintf(msg, mac)
	if name != "" {
		switch code {
		case "snapshot", "reimaged-kept":
			msg += " Its name: " + name + "."
		case "rolled-back":
			msg += " It is back at " + name + "."
		}
	}
	return msg
}

// machine answers GET /machines/{mac}.
func (d *dashboard) machine(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	return d.machineWith(w, r, mac, http.StatusOK, nil)
}

// machineWith renders mac's page with code, after change adjusts its data
// (the messages of a refused form).
func (d *dashboard) machineWith(w http.ResponseWriter, r *http.Request, mac boot.MAC, code int, change func(*machineData)) error {
	ctx := r.Context()
	n, err := d.nodes.Node(ctx, mac)
	if err != nil {
		return err
	}
	boots, err := d.nodes.Timeline(ctx, mac)
	if err != nil {
		return err
	}
	imgs, err := d.nodes.Images(ctx)
	if err != nil {
		return err
	}
	m := &machineData{Node: n, Images: imgs, HasVolumes: d.volumes.HasVolumes(),
		Volume: d.volumeOf(r, n), Enroll: enrollForm{MAC: n.MAC.String(), From: "detail"}}
	for _, b := range slices.Backward(boots) {
		m.Boots = append(m.Boots, newBootView(mac, b))
	}
	if n.State == boot.StateDiscovered {
		all, err := d.index.snapshot(ctx)
		if err != nil {
			return err
		}
		for _, e := range all {
			if e.Enrolled() {
				m.Replaceable = append(m.Replaceable, e)
			}
		}
	}
	p := page{Title: title(n), Nav: "machines", Live: "/machines/" + mac.String() + "/events", Data: m}
	if code == http.StatusOK {
		p.Done = doneMessage(r.URL.Query().Get("done"), n.MAC, r.URL.Query().Get("name"))
	}
	if change != nil {
		change(m)
	}
	d.render(w, r, code, "machine", p)
	return nil
}

// title names a machine by hostname when it has one.
func title(n *boot.Node) string {
	if n.Hostname != "" {
		return n.Hostname + " (" + n.MAC.String() + ")"
	}
	return n.MAC.String()
}

// refuse renders mac's page with err next to the action it is about and
// the form's values, or returns err for the error page when it is a
// server failure or the machine is gone (machineWith fails then).
func (d *dashboard) refuse(w http.ResponseWriter, r *http.Request, mac boot.MAC, action string, err error) error {
	auditError(r, err)
	code, msg := status(err)
	if code == http.StatusInternalServerError {
		return err
	}
	return d.machineWith(w, r, mac, code, func(m *machineData) {
		m.Errors, m.Form = map[string]string{action: msg}, r.PostForm
	})
}

// afterAction redirects to mac's page with a done message, or shows why the
// action was refused.
func (d *dashboard) afterAction(w http.ResponseWriter, r *http.Request, mac boot.MAC, action, done string, err error) error {
	if err != nil {
		return d.refuse(w, r, mac, action, err)
	}
	return seeOther(w, r, "/machines/"+mac.String()+"?done="+done)
}

// assign answers POST /machines/{mac}/assign.
func (d *dashboard) assign(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	image := r.PostForm.Get("image")
	if image == "" {
		return d.refuse(w, r, mac, "image", badRequest("choose an image"))
	}
	_, err = d.enrollment.Assign(r.Context(), mac, image)
	return d.afterAction(w, r, mac, "image", "assigned", namingImage(image, err))
}

// netboot answers POST /machines/{mac}/netboot with netboot=on, off or
// once (on, and armed for one boot: see boot.Service.Arm).
func (d *dashboard) netboot(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	v := r.PostForm.Get("netboot")
	switch v {
	case "on", "off":
		_, err = d.enrollment.SetNetboot(r.Context(), mac, v == "on")
	case "once":
		if err := escalate(r, access.ActionArm); err != nil {
			return d.refuse(w, r, mac, "netboot", err)
		}
		_, err = d.enrollment.Arm(r.Context(), mac, 0)
	default:
		return d.refuse(w, r, mac, "netboot", badRequest("netboot must be on, off or once, not %q", v))
	}
	return d.afterAction(w, r, mac, "netboot", "netboot-"+v, err)
}
