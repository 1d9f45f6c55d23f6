package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/bootd/bootd/boot"
)

// A machine's volume on its page: what the backend reports of it (size,
// parent golden snapshot, holders), its snapshots and kept volumes, and the
// snapshot form. Roll back, reimage, retire and unfence go through their
// confirmation pages (dashboard_confirm.go).

// volumeView is what a machine's page shows of its volume.
type volumeView struct {
	Volume    *boot.Volume    // nil when the backend could not describe it
	Holders   []boot.Holder   // the clients that have it open
	Snapshots []boot.Snapshot // oldest first
	// Problem says why the volume could not be read, in words for the operator.
	Problem string
}

// volumeOf reads n's volume for its page, or returns nil when there is
// none to read (no backend, or the node has no volume). A failure to read
// it is shown on the page, not made the page's failure: the timeline and
// the other actions stay usable while the cluster is away.
func (d *dashboard) volumeOf(r *http.Request, n *boot.Node) *volumeView {
	if !d.volumes.HasVolumes() || n.Volume == "" || !n.Enrolled() {
		return nil
	}
	ctx := r.Context()
	v := &volumeView{}
	vol, hs, err := d.volumes.Volume(ctx, n.MAC)
	switch {
	case errors.Is(err, boot.ErrNotFound):
		v.Problem = "Volume " + n.Volume + " is missing from the cluster. A reimage clones a fresh one; " +
			"bootd reconcile --repair does too."
		return v
	case err != nil:
		v.Problem = "The volume could not be read: " + d.problem(r, err)
		return v
	}
	v.Volume, v.Holders = vol, hs
	if v.Snapshots, err = d.volumes.Snapshots(ctx, n.MAC); err != nil {
		v.Problem = "Its snapshots could not be listed: " + d.problem(r, err)
	}
	return v
}

// snapshot answers POST /machines/{mac}/snapshots with an optional name.
func (d *dashboard) snapshot(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	snap, err := d.volumes.Snapshot(r.Context(), mac, strings.TrimSpace(r.PostForm.Get("name")))
	if err != nil {
		return d.refuse(w, r, mac, "snapshot", err)
	}
	return done(w, r, mac, "snapshot", snap.Name)
}
