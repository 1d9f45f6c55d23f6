package boot

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Power control: a node's BMC (IPMI, Redfish) or an operator's command
// drives its power. The node's record keeps its PowerSettings, never a
// password in clear; the Power interface (implemented by package power)
// seals passwords and drives the machines.

// Errors of power control.
var (
	// ErrNoPower reports that a node has no power driver set, or that bootd
	// runs without power control.
	ErrNoPower = errors.New("no power control")
	// ErrPower reports that the BMC or hook failed or refused; the wrapping
	// error says how (a wrong password, an unreachable BMC, a timeout).
	ErrPower = errors.New("power control failed")
	// ErrPowerUnsupported reports an action the node's driver cannot do
	// (a hook without one-time network boot).
	ErrPowerUnsupported = errors.New("not supported by the power driver")
)

// A PowerAction is what an operator asks of a machine's power.
type PowerAction string

// The power actions.
const (
	PowerOn     PowerAction = "on"
	PowerOff    PowerAction = "off"    // a hard power off
	PowerCycle  PowerAction = "cycle"  // off then on (or a reset when the machine is on)
	PowerStatus PowerAction = "status" // only reads
	// PowerNetbootOnce asks the BMC to boot from the network at the next
	// boot only (IPMI boot flags, Redfish BootSourceOverride Pxe/Once).
	PowerNetbootOnce PowerAction = "netboot-once"
)

// ParsePowerAction returns the action named s: on, off, cycle or status.
func ParsePowerAction(s string) (PowerAction, error) {
	switch a := PowerAction(s); a {
	case PowerOn, PowerOff, PowerCycle, PowerStatus:
		return a, nil
	}
	return "", invalid("unknown power action %q: want on, off, cycle or status", s)
}

// Changes reports whether a changes the machine (everything but status).
func (a PowerAction) Changes() bool { return a != PowerStatus }

// A PowerState is a machine's power as its BMC or hook reports it.
type PowerState string

// The power states.
const (
	PowerStateOn      PowerState = "on"
	PowerStateOff     PowerState = "off"
	PowerStateUnknown PowerState = "unknown" // the driver cannot tell (a hook without status)
)

// The power drivers.
const (
	DriverIPMI    = "ipmi"    // IPMI v2.0 over LAN (lanplus)
	DriverRedfish = "redfish" // Redfish over HTTPS
	DriverHook    = "hook"    // the operator's command (power_hook)
)

// PowerSettings are a node's power driver and how to reach it. They are
// stored in the node's record; Secret is never the password in clear.
type PowerSettings struct {
	Driver string `json:"driver"`
	// Address is the BMC's host[:port] (ipmi, default port 623) or base URL
	// (redfish, https://host); unused by the hook.
	Address string `json:"address,omitempty"`
	User    string `json:"user,omitempty"`
	// Secret says where the BMC password is: "sealed:..." (encrypted with
	// the data folder's power key, bound to the node's MAC) or "file:PATH"
	// (a file of mode 0600 bootd reads when it drives the BMC).
	Secret string `json:"secret,omitempty"`
	// Fingerprint pins a Redfish BMC's TLS certificate by its SHA-256
	// (hex); empty means the system's CAs verify it.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// SecretKind is what the API shows of Secret: "sealed", "file:PATH" or "".
func (p *PowerSettings) SecretKind() string {
	switch {
	case p == nil || p.Secret == "":
		return ""
	case strings.HasPrefix(p.Secret, "file:"):
		return p.Secret
	default:
		return "sealed"
	}
}

// Power drives machines' power. It is called concurrently, from API
// requests; each call may take seconds (a BMC's session, a hook's run).
type Power interface {
	// Seal returns what a node's record keeps for a BMC password: an
	// encrypted form bound to mac, never the password.
	Seal(mac MAC, password string) (string, error)
	// Power performs a on node n (n.Power is set) and returns the power
	// state after it. Its errors wrap ErrPower (the BMC or hook failed) or
	// ErrInvalid (the settings cannot work).
	Power(ctx context.Context, n *Node, a PowerAction) (PowerState, error)
}

// PowerRequest is a change of a node's power settings (SetPower).
type PowerRequest struct {
	PowerSettings
	// Password, when set, is sealed into Secret; it is never stored.
	Password string
	// PasswordFile names a file of mode 0600 with the password, stored as
	// Secret "file:PATH" instead.
	PasswordFile string
}

// SetPower sets (or, with Driver "none", clears) a node's power settings.
// Without a new password or file, a node keeps the secret it had.
func (s *Service) SetPower(ctx context.Context, mac MAC, req PowerRequest) (*Node, error) {
	if s.power == nil {
		return nil, fmt.Errorf("%w: bootd runs without power control", ErrNoPower)
	}
	ps := req.PowerSettings
	switch ps.Driver {
	case "none":
		return s.updateEnrolled(ctx, mac, func(n *Node) error { n.Power = nil; return nil })
	case DriverIPMI, DriverRedfish:
		if ps.Address == "" || ps.User == "" {
			return nil, invalid("power driver %s needs an address and a user", ps.Driver)
		}
	case DriverHook:
		ps.Address, ps.User, ps.Fingerprint = "", "", ""
	default:
		return nil, invalid("unknown power driver %q: want ipmi, redfish, hook or none", ps.Driver)
	}
	if strings.ContainsAny(ps.Address+ps.User, " \t\r\n\x00") {
		return nil, invalid("power address and user must not contain spaces or control characters")
	}
	ps.Secret = ""
	switch {
	case req.Password != "" && req.PasswordFile != "":
		return nil, invalid("give a password or a password file, not both")
	case req.Password != "":
		sealed, err := s.power.Seal(mac, req.Password)
		if err != nil {
			return nil, fmt.Errorf("power settings of %s: %w", mac, err)
		}
		ps.Secret = sealed
	case req.PasswordFile != "":
		if !strings.HasPrefix(req.PasswordFile, "/") {
			return nil, invalid("password file %q: want an absolute path", req.PasswordFile)
		}
		ps.Secret = "file:" + req.PasswordFile
	}
	n, err := s.updateEnrolled(ctx, mac, func(n *Node) error {
		if ps.Secret == "" && n.Power != nil && n.Power.Driver == ps.Driver {
			ps.Secret = n.Power.Secret
		}
		if ps.Secret == "" && ps.Driver != DriverHook {
			return invalid("power driver %s needs the BMC's password: --password-file", ps.Driver)
		}
		n.Power = &ps
		return nil
	})
	if err == nil {
		s.log.Info("power settings changed", "mac", mac.String(), "driver", ps.Driver, "address", ps.Address)
	}
	return n, err
}

// Power performs a on an enrolled node through its power driver. A change
// is written to the node's timeline first ("power cycle requested by
// ann"), and a failure after it; status only reads.
func (s *Service) Power(ctx context.Context, mac MAC, a PowerAction, by string) (PowerState, error) {
	n, err := s.powered(ctx, mac)
	if err != nil {
		return "", err
	}
	what := powerWords(a)
	if a.Changes() {
		if _, err := s.Record(ctx, mac, Event{Stage: StagePower, Detail: what + " requested by " + by}); err != nil {
			return "", err
		}
	}
	st, err := s.power.Power(ctx, n, a)
	if err != nil {
		err = fmt.Errorf("%s of %s: %w", what, mac, err)
		if a.Changes() {
			s.Record(ctx, mac, Event{Stage: StagePower, Detail: Printable(err.Error())}) //nolint:errcheck // the error is what the caller gets
		}
		return "", err
	}
	if a.Changes() {
		s.log.Info("power action done", "mac", mac.String(), "action", string(a), "by", by, "state", string(st))
	}
	return st, nil
}

// HasPower reports whether power control is configured.
func (s *Service) HasPower() bool { return s.power != nil }

// powered returns an enrolled node that has a power driver.
func (s *Service) powered(ctx context.Context, mac MAC) (*Node, error) {
	if s.power == nil {
		return nil, fmt.Errorf("%w: bootd runs without power control", ErrNoPower)
	}
	n, err := s.enrolled(ctx, mac)
	if err != nil {
		return nil, err
	}
	if n.Power == nil {
		return nil, fmt.Errorf("%w: %s has no power driver (bootd power set %s ...)", ErrNoPower, mac, mac)
	}
	return n, nil
}

// powerWords is how the timeline and messages name an action.
func powerWords(a PowerAction) string {
	if a == PowerNetbootOnce {
		return "one-time network boot"
	}
	return "power " + string(a)
}
