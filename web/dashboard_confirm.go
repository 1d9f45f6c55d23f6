package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bootd/bootd/boot"
)

// Actions that destroy data, or cut a machine off, ask first: GET
// /machines/{mac}/{action} is a page that says what will be lost and holds
// the form; the form POSTs to the same URL with confirm=yes. A refused POST
// shows the same page again, with the message next to its field.

// A confirmation is an action that asks first, and what its page says.
type confirmation struct {
	Action, Title, Button, Warning string
}

var confirmations = map[string]confirmation{
	"reimage": {"reimage", "Reimage", "Reimage: clone the image again",
		"Reimaging replaces this machine's volume with a fresh clone of its image: what was written to it is gone, " +
			"unless you keep the old volume below. The machine must be powered off."},
	"rollback": {"rollback", "Roll back", "Roll back: discard what was written since",
		"Rolling back returns this machine's volume to the snapshot you choose: everything written to it since is destroyed. " +
			"Rolling back to a kept volume swaps it in and keeps the current volume in its turn. The machine must be powered off."},
	"retire": {"retire", "Retire", "Retire: delete the volume",
		"Retiring deletes this machine's volume with its snapshots and kept volumes, and its Ceph user, and turns its netboot off. " +
			"Its record and timeline stay until you forget it. The machine must be powered off."},
	"unfence": {"unfence", "Unfence", "Unfence: cut the holders off",
		"Unfencing cuts every client that holds this machine's volume off the cluster (a blocklist entry) and breaks its lock, " +
			"so the machine can boot again. Do it only when the holder is dead or must be stopped: a live one can no longer write."},
	"replace": {"replace", "Replace", "Replace: move the disk to the new machine",
		"Replacing moves this machine's hostname, image and volume (with its snapshots) to the machine you choose, which " +
			"then boots this disk. Whatever still holds the volume is cut off the cluster, the volume's Ceph key is made anew, " +
			"and this MAC is retired: it gets no key any more. Do it when this machine is dead or gone."},
	"power": {"power", "Power", "Yes, do it now",
		"Power control acts on the machine itself, through its BMC or the power hook: off cuts its power at once, without a " +
			"shutdown, and a cycle restarts it; whatever it was doing is interrupted and what it had not written is lost."},
	"forget": {"forget", "Forget", "Forget this machine",
		"Forgetting deletes this machine's record and its boot timeline. If it boots again it shows up as discovered."},
}

// confirmData is a confirmation page's data.
type confirmData struct {
	confirmation
	Node       *boot.Node
	HasVolumes bool
	Snapshots  []boot.Snapshot // rollback: the choices; retire: what goes too
	Holders    []boot.Holder   // unfence: who is cut off
	Candidates []*boot.Node    // replace: the discovered machines to choose from
	Form       url.Values      // the values sent (or asked for in the query)
	Errors     map[string]string
}

// confirm answers GET /machines/{mac}/{action}: the page that asks first.
func (d *dashboard) confirm(action string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		mac, err := pathMAC(r)
		if err != nil {
			return err
		}
		return d.confirmWith(w, r, mac, action, http.StatusOK, r.URL.Query(), nil)
	}
}

// confirmWith renders action's confirmation page for mac with code, the
// form's values and messages by field.
func (d *dashboard) confirmWith(w http.ResponseWriter, r *http.Request, mac boot.MAC, action string, code int,
	form url.Values, errs map[string]string) error {
	c := confirmations[action]
	n, err := d.nodes.Node(r.Context(), mac)
	if err != nil {
		return err
	}
	data := &confirmData{confirmation: c, Node: n, HasVolumes: d.volumes.HasVolumes(), Form: form, Errors: errs}
	if err := d.loadConfirm(r.Context(), data); err != nil && data.Errors[action] == "" {
		if data.Errors == nil {
			data.Errors = map[string]string{}
		}
		data.Errors[action] = d.problem(r, err)
	}
	d.render(w, r, code, "confirm", page{Title: c.Title + " " + title(n), Nav: "machines", Data: data})
	return nil
}

// loadConfirm reads what a confirmation page shows of the volume.
func (d *dashboard) loadConfirm(ctx context.Context, c *confirmData) error {
	if c.Action == "replace" {
		var err error
		c.Candidates, err = d.nodes.Nodes(ctx, boot.StateDiscovered)
		if len(c.Candidates) > maxDiscovered {
			c.Candidates = c.Candidates[:maxDiscovered]
		}
		return err
	}
	if !c.HasVolumes && c.Action != "retire" && c.Action != "forget" && c.Action != "power" {
		return fmt.Errorf("%s needs one, and this bootd has %w", c.Title, boot.ErrNoVolumes)
	}
	if !c.HasVolumes || c.Node.Volume == "" {
		return nil
	}
	var err error
	switch c.Action {
	case "rollback", "retire":
		c.Snapshots, err = d.volumes.Snapshots(ctx, c.Node.MAC)
	case "unfence":
		_, c.Holders, err = d.volumes.Volume(ctx, c.Node.MAC)
	}
	return err
}

// problem is what a page says of an error it shows in place: its message,
// or for a server failure the generic one (the cause goes to the log).
func (d *dashboard) problem(r *http.Request, err error) string {
	code, msg := status(err)
	if code == http.StatusInternalServerError {
		d.log.Error("dashboard could not read the volume", "path", r.URL.Path, "err", err)
	}
	return msg
}

// refuseConfirm shows action's confirmation page again with err next to
// field, or returns err for the error page when it is a server failure.
func (d *dashboard) refuseConfirm(w http.ResponseWriter, r *http.Request, mac boot.MAC, action, field string, err error) error {
	auditError(r, err)
	code, msg := status(err)
	if code == http.StatusInternalServerError {
		return err
	}
	return d.confirmWith(w, r, mac, action, code, r.PostForm, map[string]string{field: msg})
}

// confirmed reports whether a destructive POST carries its confirmation;
// when not, it sends the browser to the confirmation page, with query.
func confirmed(w http.ResponseWriter, r *http.Request, mac boot.MAC, action string, query url.Values) bool {
	if r.PostForm.Get("confirm") == "yes" {
		return true
	}
	auditSkip(r)
	to := "/machines/" + mac.String() + "/" + action
	if len(query) > 0 {
		to += "?" + query.Encode()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return false
}

// done redirects to mac's page with a done message about name.
func done(w http.ResponseWriter, r *http.Request, mac boot.MAC, code, name string) error {
	q := url.Values{"done": {code}}
	if name != "" {
		q.Set("name", name)
	}
	return seeOther(w, r, "/machines/"+mac.String()+"?"+q.Encode())
}

// reimage answers POST /machines/{mac}/reimage with confirm=yes and, for a
// machine with a volume, old=delete, or old=keep and an optional name keep.
func (d *dashboard) reimage(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil || !confirmed(w, r, mac, "reimage", nil) {
		return err
	}
	n, err := d.nodes.Node(r.Context(), mac)
	if err != nil {
		return err
	}
	old, keep := r.PostForm.Get("old"), strings.TrimSpace(r.PostForm.Get("keep"))
	switch {
	case old == "keep" && n.Volume != "":
		_, err = d.volumes.ReimageKeep(r.Context(), mac, keep)
		if errors.Is(err, boot.ErrInvalid) || errors.Is(err, boot.ErrExists) {
			return d.refuseConfirm(w, r, mac, "reimage", "keep", err)
		}
		if err == nil {
			return done(w, r, mac, "reimaged-kept", keep)
		}
	case old == "delete" || n.Volume == "":
		_, err = d.volumes.Reimage(r.Context(), mac)
	default:
		return d.refuseConfirm(w, r, mac, "reimage", "old", badRequest("choose whether to keep the old volume or delete it"))
	}
	if err != nil {
		return d.refuseConfirm(w, r, mac, "reimage", "reimage", err)
	}
	return done(w, r, mac, "reimaged", "")
}

// rollback answers POST /machines/{mac}/rollback with confirm=yes and snapshot.
func (d *dashboard) rollback(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	snap := strings.TrimSpace(r.PostForm.Get("snapshot"))
	if err != nil || !confirmed(w, r, mac, "rollback", url.Values{"snapshot": {snap}}) {
		return err
	}
	if snap == "" {
		return d.refuseConfirm(w, r, mac, "rollback", "snapshot", badRequest("choose a snapshot"))
	}
	_, err = d.volumes.Rollback(r.Context(), mac, snap)
	switch {
	case errors.Is(err, boot.ErrInvalid), errors.Is(err, boot.ErrNotFound):
		return d.refuseConfirm(w, r, mac, "rollback", "snapshot", err)
	case err != nil:
		return d.refuseConfirm(w, r, mac, "rollback", "rollback", err)
	}
	return done(w, r, mac, "rolled-back", snap)
}

// retire answers POST /machines/{mac}/retire with confirm=yes.
func (d *dashboard) retire(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil || !confirmed(w, r, mac, "retire", nil) {
		return err
	}
	if _, err := d.volumes.Retire(r.Context(), mac); err != nil {
		return d.refuseConfirm(w, r, mac, "retire", "retire", err)
	}
	return done(w, r, mac, "retired", "")
}

// unfence answers POST /machines/{mac}/unfence with confirm=yes.
func (d *dashboard) unfence(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil || !confirmed(w, r, mac, "unfence", nil) {
		return err
	}
	hs, err := d.volumes.Unfence(r.Context(), mac)
	if err != nil {
		return d.refuseConfirm(w, r, mac, "unfence", "unfence", err)
	}
	if len(hs) == 0 {
		return done(w, r, mac, "unfenced-none", "")
	}
	return done(w, r, mac, "unfenced", "")
}

// replace answers POST /machines/{mac}/replace with confirm=yes and new,
// the MAC of the machine that takes this one's place (typed, or chosen
// among the discovered machines); it shows the node under its new MAC.
func (d *dashboard) replace(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	raw := strings.TrimSpace(r.PostForm.Get("new"))
	if err != nil || !confirmed(w, r, mac, "replace", url.Values{"new": {raw}}) {
		return err
	}
	to, err := boot.ParseMAC(raw)
	if err != nil {
		return d.refuseConfirm(w, r, mac, "replace", "new", badRequest("the new machine's MAC: %v", err))
	}
	auditTarget(r, "to "+to.String())
	if _, err := d.enrollment.Replace(r.Context(), mac, to); err != nil {
		field := "replace"
		if errors.Is(err, boot.ErrExists) || errors.Is(err, boot.ErrInvalid) {
			field = "new"
		}
		return d.refuseConfirm(w, r, mac, "replace", field, err)
	}
	return done(w, r, to, "replaced", "")
}

// replaceChoose answers GET /replace?old=&new=, the discovered machine's
// form: the replace confirmation page of old with new filled in.
func (d *dashboard) replaceChoose(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	old, err := boot.ParseMAC(q.Get("old"))
	if err != nil {
		return badRequest("choose the machine to replace: %v", err)
	}
	to, err := boot.ParseMAC(q.Get("new"))
	if err != nil {
		return badRequest("the new machine's MAC: %v", err)
	}
	return seeOther(w, r, "/machines/"+old.String()+"/replace?"+url.Values{"new": {to.String()}}.Encode())
}

// powerPost answers POST /machines/{mac}/power with confirm=yes and action
// on, off or cycle.
func (d *dashboard) powerPost(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	act := r.PostForm.Get("action")
	if err != nil || !confirmed(w, r, mac, "power", url.Values{"action": {act}}) {
		return err
	}
	a, err := boot.ParsePowerAction(act)
	if err != nil || a == boot.PowerStatus {
		return d.refuseConfirm(w, r, mac, "power", "power", badRequest("choose on, off or cycle"))
	}
	auditTarget(r, string(a))
	if d.power == nil {
		return d.refuseConfirm(w, r, mac, "power", "power", fmt.Errorf("%w: bootd runs without power control", boot.ErrNoPower))
	}
	if _, err := d.power.Power(r.Context(), mac, a, userName(r)); err != nil {
		return d.refuseConfirm(w, r, mac, "power", "power", err)
	}
	return done(w, r, mac, "power-"+string(a), "")
}

// forget answers POST /machines/{mac}/forget with confirm=yes.
func (d *dashboard) forget(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil || !confirmed(w, r, mac, "forget", nil) {
		return err
	}
	if err := d.enrollment.Forget(r.Context(), mac); err != nil {
		return d.refuseConfirm(w, r, mac, "forget", "forget", err)
	}
	return seeOther(w, r, "/machines?done=forgotten&mac="+mac.String())
}
