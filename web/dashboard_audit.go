package web

import (
	"net/http"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
)

// auditData is the audit page's data.
type auditData struct {
	Records []access.Record
	MAC     string // the machine the page is about; "" for all
	More    bool   // there are older records than shown
}

// auditPageSize is how many records the audit page shows.
const auditPageSize = 200

// auditPage answers GET /audit[?mac=M]: the newest audit records.
func (d *dashboard) auditPage(w http.ResponseWriter, r *http.Request) error {
	f := access.Filter{Limit: auditPageSize + 1}
	data := auditData{}
	if v := r.URL.Query().Get("mac"); v != "" {
		mac, err := boot.ParseMAC(v)
		if err != nil {
			return err
		}
		f.MAC, data.MAC = mac, mac.String()
	}
	recs, err := d.audit.Query(r.Context(), f)
	if err != nil {
		return err
	}
	if len(recs) > auditPageSize {
		recs, data.More = recs[:auditPageSize], true
	}
	data.Records = recs
	d.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Nav: "audit", Data: data})
	return nil
}
