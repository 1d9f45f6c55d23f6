package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/go-chi/chi/v5"
)

// PowerOps drives machines' power (*boot.Service). Its methods may take
// seconds: each is a BMC session or a run of the hook.
type PowerOps interface {
	// HasPower reports whether bootd runs with power control.
	HasPower() bool
	SetPower(ctx context.Context, mac boot.MAC, req boot.PowerRequest) (*boot.Node, error)
	// Power performs a; by names the user for the node's timeline.
	Power(ctx context.Context, mac boot.MAC, a boot.PowerAction, by string) (boot.PowerState, error)
	ReimageReboot(ctx context.Context, mac boot.MAC, keepOld bool, keep, by string) (*boot.Node, error)
}

// routesPower adds the power routes.
func (s *server) routesPower(r chi.Router) {
	s.act(r, http.MethodGet, "/nodes/{mac}/power", access.ActionPowerStatus, s.powerStatus)
	s.act(r, http.MethodPost, "/nodes/{mac}/power", access.ActionPower, s.powerAction)
	s.act(r, http.MethodPut, "/nodes/{mac}/power/settings", access.ActionPowerSet, s.powerSettings)
}

// powerBody is the answer of the power routes: the machine's power after
// the action.
type powerBody struct {
	MAC    boot.MAC         `json:"mac"`
	Action boot.PowerAction `json:"action"`
	Power  boot.PowerState  `json:"power"`
}

// powerOps returns the power control, or ErrNoPower.
func (s *server) powerOps() (PowerOps, error) {
	if s.power == nil || !s.power.HasPower() {
		return nil, fmt.Errorf("%w: bootd runs without power control", boot.ErrNoPower)
	}
	return s.power, nil
}

// powerStatus answers GET /nodes/{mac}/power.
func (s *server) powerStatus(w http.ResponseWriter, r *http.Request) error {
	return s.doPower(w, r, boot.PowerStatus)
}

// powerAction answers POST /nodes/{mac}/power {"action":"on|off|cycle"}.
func (s *server) powerAction(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Action string `json:"action"`
	}
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	a, err := boot.ParsePowerAction(req.Action)
	if err != nil || a == boot.PowerStatus {
		return badRequest(`"action": want on, off or cycle (GET reads the status)`)
	}
	auditTarget(r, string(a))
	return s.doPower(w, r, a)
}

func (s *server) doPower(w http.ResponseWriter, r *http.Request, a boot.PowerAction) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	p, err := s.powerOps()
	if err != nil {
		return err
	}
	st, err := p.Power(r.Context(), mac, a, userName(r))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, powerBody{MAC: mac, Action: a, Power: st})
	return nil
}

// powerSettingsRequest is the body of PUT /nodes/{mac}/power/settings.
// The password is sealed by the Service and never stored or shown.
type powerSettingsRequest struct {
	Driver       string `json:"driver"`
	Address      string `json:"address"`
	User         string `json:"user"`
	Password     string `json:"password"`
	PasswordFile string `json:"password_file"`
	Fingerprint  string `json:"fingerprint"`
}

// powerSettings answers PUT /nodes/{mac}/power/settings with the node.
func (s *server) powerSettings(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	var req powerSettingsRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Driver == "" {
		return badRequest(`"driver" is required: ipmi, redfish, hook or none`)
	}
	auditTarget(r, req.Driver)
	p, err := s.powerOps()
	if err != nil {
		return err
	}
	n, err := p.SetPower(r.Context(), mac, boot.PowerRequest{
		PowerSettings: boot.PowerSettings{Driver: req.Driver, Address: req.Address, User: req.User, Fingerprint: req.Fingerprint},
		Password:      req.Password, PasswordFile: req.PasswordFile})
	return s.writeNode(w, r, n, err)
}

// userName is the name of the request's user, for the timeline.
func userName(r *http.Request) string {
	if p, ok := principalOf(r); ok {
		return p.user.Name
	}
	return "unknown"
}

// redact returns n as clients see it: its power settings' secret replaced
// by its kind ("sealed", "file:PATH"); never the sealed password itself.
func redact(n *boot.Node) *boot.Node {
	if n == nil || n.Power == nil {
		return n
	}
	c := n.Clone()
	c.Power.Secret = n.Power.SecretKind()
	return c
}

func redactAll(ns []*boot.Node) []*boot.Node {
	out := make([]*boot.Node, len(ns))
	for i, n := range ns {
		out[i] = redact(n)
	}
	return out
}

// bmcNetbootOnce asks the node's BMC to boot it from the network once,
// when it has a power driver, and says what came of it ("" for nothing to
// say), for the answers of netboot once and the dashboard.
func (s *server) bmcNetbootOnce(ctx context.Context, mac boot.MAC, by string) string {
	p, err := s.powerOps()
	if err != nil {
		return ""
	}
	_, err = p.Power(ctx, mac, boot.PowerNetbootOnce, by)
	switch {
	case err == nil:
		return "the BMC boots it from the network at its next boot"
	case errors.Is(err, boot.ErrNoPower):
		return ""
	case errors.Is(err, boot.ErrPowerUnsupported):
		return "its power driver has no one-time network boot: armed in bootd only"
	}
	return "armed in bootd, but the BMC's one-time network boot failed: " + err.Error()
}
