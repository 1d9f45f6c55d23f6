package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs"
	"github.com/go-chi/chi/v5"
)

// NodeConfig configures the handler of the node listener, built by NewNode.
type NodeConfig struct {
	// Service releases keys and takes reports; required. *boot.Service is one.
	Service BootKeys
	// Logger receives refusals (Debug); nil discards them.
	Logger *slog.Logger
}

// NewNode returns the handler of the endpoints a booting node's bootd-init
// talks to. It is served over TLS only (bootd-init pins the certificate's
// fingerprint, which the node's overlay carries), so the key never crosses
// the wire in clear; the plain HTTP listener does not have these routes.
// There is no API token: the node has none. The key needs a token of the
// node's current boot from the address of that boot; reports need that
// token (before the key) or the secret handed out with the key (after):
//
//	GET  /boot/{mac}/time     bootd's clock, Unix nanoseconds as text
//	POST /boot/{mac}/key      form token=<token>: "key=<base64>\nreport=<secret>\n"
//	POST /boot/{mac}/report   form stage=<stage>&detail=<text>&auth=<token or secret>
//	POST /boot/{mac}/inventory form inventory=<boot.Inventory as JSON>&auth=<secret>, once a boot
//
// Tokens and secrets travel in POST bodies, never in URLs, so no access log
// holds them. The paths are bootfs.Layout's (TestLayoutServed).
func NewNode(cfg NodeConfig) (http.Handler, error) {
	if cfg.Service == nil {
		return nil, errors.New("web: NodeConfig needs a Service")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &nodeServer{svc: cfg.Service, log: log}
	r := chi.NewRouter()
	folder := bootfs.Root + "/{mac}/"
	r.Get(folder+bootfs.TimeEndpoint, n.time)
	r.Post(folder+bootfs.KeyEndpoint, n.key)
	r.Post(folder+bootfs.ReportEndpoint, n.report)
	r.Post(folder+bootfs.InventoryEndpoint, n.inventory)
	return r, nil
}

// keyRetryAfter is the Retry-After, in seconds, of a key request that met
// Ceph down: twice the interval of bootd's Ceph probe (cmd/bootd).
const keyRetryAfter = 10

type nodeServer struct {
	svc BootKeys
	log *slog.Logger
}

func (n *nodeServer) time(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(strconv.FormatInt(time.Now().UnixNano(), 10)))
}

// key answers a node's key request. Every refusal gets the same answer, so
// a prober learns nothing; a fenced volume's message is for the node's
// console (it names no other machine). A request of the node's own boot
// that met Ceph down gets 503 with Retry-After and a fixed message: only
// the token's holder, from its address, gets that far, and its token is
// not spent (bootd-init asks again).
func (n *nodeServer) key(w http.ResponseWriter, r *http.Request) {
	mac, err := pathMAC(r)
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err == nil {
		err = r.ParseForm()
	}
	var g *boot.KeyGrant
	if err == nil {
		g, err = n.svc.RedeemBootKey(r.Context(), mac, r.PostForm.Get("token"), remoteAddr(r))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case err == nil:
		w.Write([]byte("key=" + g.Key + "\nreport=" + g.Report + "\n"))
	case errors.Is(err, boot.ErrFenced):
		http.Error(w, err.Error(), http.StatusConflict)
	case errors.Is(err, boot.ErrDenied): // deferred as well: the boot goes on once the caps are right
		w.Header().Set("Retry-After", strconv.Itoa(keyRetryAfter))
		http.Error(w, "Ceph refused bootd's own user (its caps; see bootd's log), retry: bootd cannot release the key now", http.StatusServiceUnavailable)
	case errors.Is(err, boot.ErrCephUnavailable):
		w.Header().Set("Retry-After", strconv.Itoa(keyRetryAfter))
		http.Error(w, "Ceph unavailable, retry: bootd cannot release the key now", http.StatusServiceUnavailable)
	default:
		n.log.Debug("boot key refused", "path", r.URL.Path, "err", err)
		http.Error(w, "key refused: this is not the boot bootd saw this machine start; boot it again", http.StatusForbidden)
	}
}

func (n *nodeServer) report(w http.ResponseWriter, r *http.Request) {
	mac, err := pathMAC(r)
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err == nil {
		err = r.ParseForm()
	}
	if err == nil {
		f := r.PostForm
		err = n.svc.Report(r.Context(), mac, boot.Stage(f.Get("stage")), f.Get("detail"), f.Get("auth"), remoteAddr(r))
	}
	answerReport(w, err)
}

// inventory takes a machine's hardware report (boot.Inventory as JSON in
// the form's "inventory", at most 64 KiB) with its boot's report secret.
func (n *nodeServer) inventory(w http.ResponseWriter, r *http.Request) {
	mac, err := pathMAC(r)
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err == nil {
		err = r.ParseForm()
	}
	var inv boot.Inventory
	if err == nil {
		if err = json.Unmarshal([]byte(r.PostForm.Get("inventory")), &inv); err != nil {
			err = badRequest("inventory: %v", err)
		}
	}
	if err == nil {
		err = n.svc.ReportInventory(r.Context(), mac, inv, r.PostForm.Get("auth"), remoteAddr(r))
	}
	answerReport(w, err)
}

// answerReport answers a report (of a stage or of the hardware): ok, a
// refusal that says no more, or what was wrong with it.
func answerReport(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		w.Write([]byte("ok\n"))
	case errors.Is(err, boot.ErrReportRefused), errors.Is(err, boot.ErrUnknown):
		http.Error(w, "report refused", http.StatusForbidden)
	default:
		code, msg := status(err)
		http.Error(w, msg, code)
	}
}

// remoteAddr is the request's client address.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}
