package power

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/types"
)

// IPMI drives a BMC over IPMI v2.0 LAN (RMCP+, "lanplus"), the way
// ipmitool -I lanplus does: Get Chassis Status, Chassis Control and the
// boot flags of Set System Boot Options (IPMI v2.0 sections 28.2, 28.3 and
// 28.12, parameter 5). The session asks for the Operator privilege, the
// least that chassis control needs. It offers cipher suites 17 and 3 only
// (HMAC-SHA256 and HMAC-SHA1 with AES-128, what iDRAC 8 and iLO 4 accept),
// so a wrong password costs the BMC two refused logins, not one per suite.
type IPMI struct {
	// Timeout bounds each UDP exchange; 0 means 2 seconds.
	Timeout time.Duration
}

// ipmiPort is IPMI over LAN's port (RMCP, IPMI v2.0 section 13.1).
const ipmiPort = 623

// Do implements Driver.
func (d IPMI) Do(ctx context.Context, t Target, a boot.PowerAction) (boot.PowerState, error) {
	host, port, err := hostPort(t.Address, ipmiPort)
	if err != nil {
		return "", err
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	c, err := client.NewClient(host, port, t.User, t.Password)
	if err != nil {
		return "", fmt.Errorf("%w: ipmi: %v", boot.ErrInvalid, err)
	}
	c.WithTimeout(timeout).WithRetry(1).WithMaxPrivilegeLevel(types.PrivilegeLevelOperator).
		WithCipherSuiteID(types.CipherSuiteID17, types.CipherSuiteID3)
	if err := c.Connect(ctx); err != nil {
		return "", ipmiError("log in to "+t.Address, err)
	}
	defer c.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the session times out on the BMC anyway
	on, err := ipmiPowerOn(ctx, c)
	if err != nil {
		return "", err
	}
	var ctl chassis.ChassisControl
	switch a {
	case boot.PowerStatus:
		return state(on), nil
	case boot.PowerOn:
		ctl = chassis.ChassisControlPowerUp
	case boot.PowerOff:
		ctl = chassis.ChassisControlPowerDown
	case boot.PowerCycle:
		// A power cycle of a machine that is off does nothing (IPMI v2.0
		// section 28.3): power it up instead.
		ctl = chassis.ChassisControlPowerCycle
		if !on {
			ctl = chassis.ChassisControlPowerUp
		}
	case boot.PowerNetbootOnce:
		bt := types.BIOSBootTypeLegacy
		if t.UEFI {
			bt = types.BIOSBootTypeEFI
		}
		flags := &types.BootOptionParam_BootFlags{BootFlagsValid: true, Persist: false, BIOSBootType: bt,
			BootDeviceSelector: types.BootDeviceSelectorForcePXE}
		if err := c.SetSystemBootOptionsParamFor(ctx, flags); err != nil {
			return "", ipmiError("set the one-time network boot", err)
		}
		return state(on), nil
	default:
		return "", fmt.Errorf("%w: ipmi: action %q", boot.ErrPowerUnsupported, a)
	}
	if _, err := c.ChassisControl(ctx, ctl); err != nil {
		return "", ipmiError("chassis control "+string(a), err)
	}
	on, err = ipmiPowerOn(ctx, c)
	if err != nil {
		return "", err
	}
	return state(on), nil
}

func ipmiPowerOn(ctx context.Context, c *client.Client) (bool, error) {
	st, err := c.GetChassisStatus(ctx)
	if err != nil {
		return false, ipmiError("chassis status", err)
	}
	return st.PowerIsOn, nil
}

func state(on bool) boot.PowerState {
	if on {
		return boot.PowerStateOn
	}
	return boot.PowerStateOff
}

// ipmiError classifies go-ipmi's errors: a refused login (RAKP 2's
// authentication code mismatch, or an unknown user name, IPMI v2.0
// section 13.24) is ErrAuth; no answer is ErrTemporary; the rest is the
// BMC's refusal.
func ipmiError(what string, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, client.ErrRAKPAuthentication), strings.Contains(msg, "RAKP authentication failed"),
		strings.Contains(msg, "Unauthorized name"), strings.Contains(msg, "Invalid role"):
		return fmt.Errorf("%w (ipmi: %s)", ErrAuth, what)
	case strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "connection refused"),
		strings.Contains(msg, "no route to host"), strings.Contains(msg, "network is unreachable"):
		return fmt.Errorf("%w: ipmi: %s: no answer from the BMC", ErrTemporary, what)
	}
	return fmt.Errorf("%w: ipmi: %s: %s", boot.ErrPower, what, firstLine(msg))
}

// hostPort splits an address into host and port, def when it has none.
func hostPort(addr string, def int) (string, int, error) {
	if addr == "" {
		return "", 0, fmt.Errorf("%w: no BMC address", boot.ErrInvalid)
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return strings.Trim(addr, "[]"), def, nil
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%w: bad BMC port in %q", boot.ErrInvalid, addr)
	}
	return host, port, nil
}

// firstLine is the first line of s, at most 200 bytes, printable.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return boot.Printable(s)
}
