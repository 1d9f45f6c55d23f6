package web

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/go-chi/chi/v5"
)

// The endpoints a booting node's bootd-init talks to, under its tree (no
// API token: the node has none; the key needs the one-time token instead):
//
//	GET  /boot/{mac}/time     bootd's clock, Unix nanoseconds as text
//	POST /boot/{mac}/key      form token=<token>: the node's Ceph key, base64 text
//	POST /boot/{mac}/report   form stage=<stage>&detail=<text>: a boot stage
//
// The token travels in a POST body, never in a URL, so no access log holds it.
func (s *server) routesBootcfg(r chi.Router) {
	r.Get("/{mac}/time", s.bootTime)
	r.Post("/{mac}/key", s.bootKey)
	r.Post("/{mac}/report", s.bootReport)
}

func (s *server) bootTime(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(strconv.FormatInt(time.Now().UnixNano(), 10)))
}

// bootKey answers a node's key exchange. Every refusal gets the same
// answer, so a prober learns nothing; a fenced volume's message is shown on
// the node's console.
func (s *server) bootKey(w http.ResponseWriter, r *http.Request) {
	mac, err := pathMAC(r)
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err == nil {
		err = r.ParseForm()
	}
	var key string
	if err == nil {
		key, err = s.svc.RedeemBootKey(r.Context(), mac, r.PostForm.Get("token"), remoteIP(r))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case err == nil:
		w.Write([]byte(key + "\n"))
	case errors.Is(err, boot.ErrFenced):
		http.Error(w, err.Error(), http.StatusConflict)
	default:
		s.log.Debug("boot key refused", "path", r.URL.Path, "err", err)
		http.Error(w, "key refused: boot again to get a new token", http.StatusForbidden)
	}
}

func (s *server) bootReport(w http.ResponseWriter, r *http.Request) {
	mac, err := pathMAC(r)
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err == nil {
		err = r.ParseForm()
	}
	if err == nil {
		err = s.svc.Report(r.Context(), mac, boot.Stage(r.PostForm.Get("stage")), r.PostForm.Get("detail"), remoteIP(r))
	}
	if err != nil {
		code, msg := status(err)
		http.Error(w, msg, code)
		return
	}
	w.Write([]byte("ok\n"))
}

// remoteIP is the request's client address.
func remoteIP(r *http.Request) net.IP {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return nil
	}
	return net.ParseIP(host)
}
