package web

import (
	"net/http"

	"github.com/bootd/bootd/boot"
)

// statusBody is the answer of GET /status: the answering bootd's version
// and the instances sharing its store (boot/instance.go).
type statusBody struct {
	Version   string                `json:"version"`
	Instances []boot.InstanceStatus `json:"instances"`
}

// status answers GET /status.
func (s *server) status(w http.ResponseWriter, r *http.Request) error {
	in, err := s.nodes.Instances(r.Context())
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, statusBody{Version: s.version, Instances: in})
	return nil
}
