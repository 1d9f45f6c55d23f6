package web

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/bootd/bootd/boot"
)

// A machine's page: its settings, its volume, its boot timeline (live), and
// the actions on it. Actions that destroy data (reimage, forget) go through
// a confirmation page first.
//
// TODO(volumes): the volume's real size, parent and snapshots, and the
// snapshot, roll back and retire actions, once boot.Service has the volume
// operations; until then the page shows the volume's name and requested size
// from the node record only.

// machineData is a machine page's data.
type machineData struct {
	Node       *boot.Node
	Boots      []bootView // newest first
	Images     []*boot.Image
	HasVolumes bool
	Enroll     enrollForm        // for a discovered machine
	Errors     map[string]string // messages by action: image, netboot
}

// bootView is one boot of a timeline as the page shows it.
type bootView struct {
	MAC    string
	Seq    int
	Start  time.Time
	Events []eventView
	Last   boot.Stage
	Took   time.Duration // from the first event to the last
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
	}
	last := b.Events[len(b.Events)-1]
	v.Last, v.Took = last.Stage, last.Time.Sub(v.Start)
	return v
}

// doneMessage is the line a page shows after a successful action.
func doneMessage(code string, mac boot.MAC) string {
	msg := map[string]string{
		"enrolled":    "Enrolled %s. It boots its image at its next network boot.",
		"forgotten":   "Forgot %s: its record and timeline are gone.",
		"assigned":    "Image assigned to %s. It takes effect at the next reimage.",
		"reimaged":    "Reimaged %s: its volume is a fresh clone of its image.",
		"netboot-on":  "Netboot is on for %s: bootd answers its boot requests.",
		"netboot-off": "Netboot is off for %s: its firmware boots its next device.",
	}[code]
	if msg == "" {
		return ""
	}
	return fmt.Sprintf(msg, mac)
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
	n, err := d.svc.Node(ctx, mac)
	if err != nil {
		return err
	}
	boots, err := d.svc.Timeline(ctx, mac)
	if err != nil {
		return err
	}
	imgs, err := d.svc.Images(ctx)
	if err != nil {
		return err
	}
	m := &machineData{Node: n, Images: imgs, HasVolumes: d.svc.HasVolumes(),
		Enroll: enrollForm{MAC: n.MAC.String(), From: "detail"}}
	for _, b := range slices.Backward(boots) {
		m.Boots = append(m.Boots, newBootView(mac, b))
	}
	p := page{Title: title(n), Nav: "machines", Live: "/machines/" + mac.String() + "/events", Data: m}
	if code == http.StatusOK {
		p.Done = doneMessage(r.URL.Query().Get("done"), n.MAC)
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

// refuse renders mac's page with err next to the action it is about, or
// returns err for the error page when the machine itself is the problem.
func (d *dashboard) refuse(w http.ResponseWriter, r *http.Request, mac boot.MAC, action string, err error) error {
	code, msg := status(err)
	if code == http.StatusNotFound || code == http.StatusInternalServerError {
		return err
	}
	return d.machineWith(w, r, mac, code, func(m *machineData) {
		m.Errors = map[string]string{action: msg}
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
	_, err = d.svc.Assign(r.Context(), mac, image)
	return d.afterAction(w, r, mac, "image", "assigned", namingImage(image, err))
}

// netboot answers POST /machines/{mac}/netboot with netboot=on or off.
func (d *dashboard) netboot(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	v := r.PostForm.Get("netboot")
	if v != "on" && v != "off" {
		return d.refuse(w, r, mac, "netboot", badRequest("netboot must be on or off, not %q", v))
	}
	_, err = d.svc.SetNetboot(r.Context(), mac, v == "on")
	return d.afterAction(w, r, mac, "netboot", "netboot-"+v, err)
}

// A confirmation is an action that destroys data, and what its page says.
type confirmation struct {
	Action, Title, Button, Warning string
}

var (
	confirmReimage = confirmation{"reimage", "Reimage", "Reimage: erase and clone again",
		"Reimaging deletes this machine's volume, with everything written to it, and clones a fresh one from its image. The machine should be powered off."}
	confirmForget = confirmation{"forget", "Forget", "Forget this machine",
		"Forgetting deletes this machine's record and its boot timeline. If it boots again it shows up as discovered."}
)

// confirmData is a confirmation page's data.
type confirmData struct {
	confirmation
	Node *boot.Node
}

// confirm answers GET /machines/{mac}/{action}: the page that asks first.
func (d *dashboard) confirm(c confirmation) pageFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		mac, err := pathMAC(r)
		if err != nil {
			return err
		}
		n, err := d.svc.Node(r.Context(), mac)
		if err != nil {
			return err
		}
		d.render(w, r, http.StatusOK, "confirm", page{Title: c.Title + " " + title(n), Nav: "machines",
			Data: confirmData{confirmation: c, Node: n}})
		return nil
	}
}

// confirmed reports whether a destructive POST carries its confirmation;
// when not, it sends the browser to the confirmation page.
func confirmed(w http.ResponseWriter, r *http.Request, mac boot.MAC, action string) bool {
	if r.PostForm.Get("confirm") == "yes" {
		return true
	}
	http.Redirect(w, r, "/machines/"+mac.String()+"/"+action, http.StatusSeeOther)
	return false
}

// reimage answers POST /machines/{mac}/reimage with confirm=yes.
func (d *dashboard) reimage(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil || !confirmed(w, r, mac, "reimage") {
		return err
	}
	_, err = d.svc.Reimage(r.Context(), mac)
	return d.afterAction(w, r, mac, "reimage", "reimaged", err)
}

// forget answers POST /machines/{mac}/forget with confirm=yes.
func (d *dashboard) forget(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil || !confirmed(w, r, mac, "forget") {
		return err
	}
	if err := d.svc.Forget(r.Context(), mac); err != nil {
		return d.refuse(w, r, mac, "forget", err)
	}
	return seeOther(w, r, "/machines?done=forgotten&mac="+mac.String())
}
