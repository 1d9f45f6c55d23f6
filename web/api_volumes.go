package web

import (
	"errors"
	"net/http"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/go-chi/chi/v5"
)

// routesVolumes adds the cloud-disk routes to the API router (token
// required, like every /api/v1 route).
func (s *server) routesVolumes(r chi.Router) {
	get, post := http.MethodGet, http.MethodPost
	s.act(r, get, "/nodes/{mac}/volume", access.ActionView, s.volume)
	s.act(r, get, "/nodes/{mac}/snapshots", access.ActionView, s.snapshots)
	s.act(r, post, "/nodes/{mac}/snapshots", access.ActionSnapshot, s.snapshot)
	s.act(r, post, "/nodes/{mac}/rollback", access.ActionRollback, s.rollback)
	s.act(r, post, "/nodes/{mac}/retire", access.ActionRetire, s.retire)
	s.act(r, post, "/nodes/{mac}/unfence", access.ActionUnfence, s.unfence)
	s.act(r, post, "/reconcile", access.ActionReconcile, s.reconcile) // escalates to repair
	s.act(r, get, "/images/{name}/golden", access.ActionView, s.golden)
	s.act(r, post, "/images/{name}/golden/protect", access.ActionProtect, s.protectGolden)
}

// Bodies of the cloud-disk answers.
type (
	volumeBody struct {
		Volume  *boot.Volume  `json:"volume"`
		Holders []boot.Holder `json:"holders"`
	}
	snapshotBody struct {
		Snapshot *boot.Snapshot `json:"snapshot"`
	}
	snapshotsBody struct {
		MAC       boot.MAC        `json:"mac"`
		Snapshots []boot.Snapshot `json:"snapshots"`
	}
	releasedBody struct {
		Released []boot.Holder `json:"released"`
	}
	goldenBody struct {
		Image  string `json:"image"`
		Golden string `json:"golden"`
		OK     bool   `json:"ok"`
		// Problem says what is wrong with the golden snapshot when not OK.
		Problem string `json:"problem,omitempty"`
	}
)

// reimageRequest is the optional body of POST /nodes/{mac}/reimage: with
// keep, the old volume is kept, whole, as snapshot name (a name from the
// clock when empty); without a body or keep, it is deleted.
type reimageRequest struct {
	Keep bool   `json:"keep"`
	Name string `json:"name"`
	// Reboot powers the machine off first and on again on the fresh clone,
	// through its power driver (boot.Service.ReimageReboot).
	Reboot bool `json:"reboot"`
}

// reimageWith answers POST /nodes/{mac}/reimage for mac.
func (s *server) reimageWith(w http.ResponseWriter, r *http.Request, mac boot.MAC) error {
	var req reimageRequest
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
	}
	if req.Name != "" && !req.Keep {
		return badRequest(`"name" names the kept volume: it needs "keep": true`)
	}
	var (
		n   *boot.Node
		err error
	)
	if req.Reboot {
		auditTarget(r, "reboot") // an operator's, as reimage and power are
		p, err := s.powerOps()
		if err != nil {
			return err
		}
		n, err = p.ReimageReboot(r.Context(), mac, req.Keep, req.Name, userName(r))
		return s.writeNode(w, r, n, err)
	}
	if req.Keep {
		n, err = s.volumes.ReimageKeep(r.Context(), mac, req.Name)
	} else {
		n, err = s.volumes.Reimage(r.Context(), mac)
	}
	return s.writeNode(w, r, n, err)
}

// volume answers GET /nodes/{mac}/volume: the volume as the backend sees it and who holds it.
func (s *server) volume(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	v, hs, err := s.volumes.Volume(r.Context(), mac)
	if err != nil {
		return err
	}
	if hs == nil {
		hs = []boot.Holder{}
	}
	s.writeJSON(w, r, http.StatusOK, volumeBody{Volume: v, Holders: hs})
	return nil
}

// snapshots answers GET /nodes/{mac}/snapshots.
func (s *server) snapshots(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	snaps, err := s.volumes.Snapshots(r.Context(), mac)
	if err != nil {
		return err
	}
	if snaps == nil {
		snaps = []boot.Snapshot{}
	}
	s.writeJSON(w, r, http.StatusOK, snapshotsBody{MAC: mac, Snapshots: snaps})
	return nil
}

// snapshot answers POST /nodes/{mac}/snapshots {"name":"..."} (name optional).
func (s *server) snapshot(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
	}
	snap, err := s.volumes.Snapshot(r.Context(), mac, req.Name)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusCreated, snapshotBody{Snapshot: snap})
	return nil
}

// rollback answers POST /nodes/{mac}/rollback {"snapshot":"..."}.
func (s *server) rollback(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	var req struct {
		Snapshot string `json:"snapshot"`
	}
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Snapshot == "" {
		return badRequest(`"snapshot" is required`)
	}
	n, err := s.volumes.Rollback(r.Context(), mac, req.Snapshot)
	return s.writeNode(w, r, n, err)
}

// retire answers POST /nodes/{mac}/retire. It reads no body.
func (s *server) retire(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	n, err := s.volumes.Retire(r.Context(), mac)
	return s.writeNode(w, r, n, err)
}

// unfence answers POST /nodes/{mac}/unfence. It reads no body.
func (s *server) unfence(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	hs, err := s.volumes.Unfence(r.Context(), mac)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, releasedBody{Released: hs})
	return nil
}

// reconcile answers POST /reconcile {"repair":true, "dry_run":false,
// "max_delete":0, "allow_mass_delete":false} (boot.ReconcileOptions; body
// optional: report only). A repair the mass-delete guard refuses is still
// 200, its answer's "refused" saying why.
func (s *server) reconcile(w http.ResponseWriter, r *http.Request) error {
	var req boot.ReconcileOptions
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
	}
	if req.Repair && !req.DryRun {
		if err := escalate(r, access.ActionRepair); err != nil {
			return err
		}
	}
	rec, err := s.volumes.Reconcile(r.Context(), req)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, rec)
	return nil
}

// golden answers GET /images/{name}/golden: whether the image's golden
// snapshot exists and is protected. A problem with it is an answer, not an error.
func (s *server) golden(w http.ResponseWriter, r *http.Request) error {
	return s.checkGolden(w, r, false)
}

// protectGolden answers POST /images/{name}/golden/protect. It reads no body.
func (s *server) protectGolden(w http.ResponseWriter, r *http.Request) error {
	return s.checkGolden(w, r, true)
}

func (s *server) checkGolden(w http.ResponseWriter, r *http.Request, protect bool) error {
	name := pathParam(r, "name")
	img, err := s.volumes.CheckGolden(r.Context(), name, protect)
	if errors.Is(err, boot.ErrUnknownImage) {
		return missingError{namingImage(name, err)}
	}
	body := goldenBody{Image: name, OK: err == nil}
	if img != nil {
		body.Golden = img.Golden.String()
	}
	switch {
	case err == nil:
	case errors.Is(err, boot.ErrNotFound), errors.Is(err, boot.ErrUnprotected):
		body.Problem = err.Error()
	default:
		return err
	}
	s.writeJSON(w, r, http.StatusOK, body)
	return nil
}
