package web

import (
	"net/http"

	"github.com/bootd/bootd/bootfs"
)

// explainBody is the answer of GET /nodes/{mac}/explain.
type explainBody struct {
	Explain *bootfs.Explanation `json:"explain"`
	// Failed says whether any check failed.
	Failed bool `json:"failed"`
}

// explain answers GET /nodes/{mac}/explain: what each boot stage would hand
// the node, token redacted, and a check of each part. It has no side
// effects: no token issued, no fence checked, nothing recorded. A failed
// check is still a 200; Failed says so.
func (s *server) explain(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	files := s.files
	if files == nil {
		if files, err = bootfs.New(bootfs.Config{Nodes: s.resolver}); err != nil {
			return err
		}
	}
	var chk bootfs.Checks
	if s.volumes.HasVolumes() {
		chk = s.volumes
	}
	e, err := files.Explain(r.Context(), mac, chk, s.dhcp)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, explainBody{Explain: e, Failed: e.Failed()})
	return nil
}
