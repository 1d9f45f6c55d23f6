package power

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
)

// Redfish drives a BMC through the DMTF Redfish API (DSP0266) over HTTPS:
// a session (SessionService, DSP0266 section 13.3.4; basic auth when the
// service has no session service), the ComputerSystem's PowerState, its
// #ComputerSystem.Reset action with the ResetType the system allows, and
// Boot.BootSourceOverrideTarget Pxe with BootSourceOverrideEnabled Once.
// Address is the service's root URL (https://10.0.0.21) or one system's
// (https://10.0.0.21/redfish/v1/Systems/1); with the root, the service
// must have exactly one system.
type Redfish struct {
	// Timeout bounds each request; 0 means 20 seconds.
	Timeout time.Duration
}

// Do implements Driver.
func (d *Redfish) Do(ctx context.Context, t Target, a boot.PowerAction) (boot.PowerState, error) {
	s, err := d.open(ctx, t)
	if err != nil {
		return "", err
	}
	defer s.close()
	sys, err := s.system(ctx)
	if err != nil {
		return "", err
	}
	on := sys.PowerState == "On" || sys.PowerState == "PoweringOn"
	switch a {
	case boot.PowerStatus:
		return redfishState(sys.PowerState), nil
	case boot.PowerNetbootOnce:
		if v := sys.Boot.TargetAllowed; len(v) > 0 && !slices.Contains(v, "Pxe") {
			return "", fmt.Errorf("%w: redfish: the system does not offer Pxe as a boot override", boot.ErrPowerUnsupported)
		}
		body := map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}}
		if err := s.do(ctx, http.MethodPatch, sys.ID, body, nil); err != nil {
			return "", err
		}
		return redfishState(sys.PowerState), nil
	}
	reset, ok := chooseReset(a, on, sys.Actions.Reset.Allowed)
	if !ok {
		return "", fmt.Errorf("%w: redfish: the system allows no reset type for %s (it allows %s)",
			boot.ErrPowerUnsupported, a, strings.Join(sys.Actions.Reset.Allowed, ", "))
	}
	target := sys.Actions.Reset.Target
	if target == "" {
		target = strings.TrimSuffix(sys.ID, "/") + "/Actions/ComputerSystem.Reset"
	}
	if err := s.do(ctx, http.MethodPost, target, map[string]string{"ResetType": reset}, nil); err != nil {
		return "", err
	}
	if sys, err = s.system(ctx); err != nil {
		return "", err
	}
	return redfishState(sys.PowerState), nil
}

// chooseReset picks the ResetType for a from those the system allows (all
// when it lists none): On, ForceOff, and for a cycle PowerCycle, else
// ForceRestart (a machine that is off is turned On).
func chooseReset(a boot.PowerAction, on bool, allowed []string) (string, bool) {
	var want []string
	switch {
	case a == boot.PowerOn, a == boot.PowerCycle && !on:
		want = []string{"On", "ForceOn"}
	case a == boot.PowerOff:
		want = []string{"ForceOff"}
	case a == boot.PowerCycle:
		want = []string{"PowerCycle", "ForceRestart"}
	}
	for _, w := range want {
		if len(allowed) == 0 || slices.Contains(allowed, w) {
			return w, true
		}
	}
	return "", false
}

func redfishState(s string) boot.PowerState {
	switch s {
	case "On", "PoweringOn":
		return boot.PowerStateOn
	case "Off", "PoweringOff":
		return boot.PowerStateOff
	}
	return boot.PowerStateUnknown
}

// rfSystem is what bootd reads of a ComputerSystem resource.
type rfSystem struct {
	ID         string `json:"@odata.id"`
	PowerState string `json:"PowerState"`
	Boot       struct {
		TargetAllowed []string `json:"BootSourceOverrideTarget@Redfish.AllowableValues"`
	} `json:"Boot"`
	Actions struct {
		Reset struct {
			Target  string   `json:"target"`
			Allowed []string `json:"ResetType@Redfish.AllowableValues"`
		} `json:"#ComputerSystem.Reset"`
	} `json:"Actions"`
}

// rfSession is one conversation with a Redfish service.
type rfSession struct {
	hc       *http.Client
	base     *url.URL // scheme and host
	system0  string   // the system's path, when the address named one
	user     string
	password string
	token    string // X-Auth-Token; empty: basic auth
	location string // the session to delete at the end
}

func (d *Redfish) open(ctx context.Context, t Target) (*rfSession, error) {
	u, err := url.Parse(t.Address)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%w: redfish address %q: want https://host or https://host/redfish/v1/Systems/ID", boot.ErrInvalid, t.Address)
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.Fingerprint != "" {
		want, err := hex.DecodeString(strings.ReplaceAll(strings.ToLower(t.Fingerprint), ":", ""))
		if err != nil || len(want) != sha256.Size {
			return nil, fmt.Errorf("%w: redfish fingerprint: want the certificate's SHA-256 in hex", boot.ErrInvalid)
		}
		// A BMC's certificate is usually its own, self-signed: pinned
		// instead of chained, as the CLI pins bootd's.
		tc.InsecureSkipVerify = true
		tc.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no certificate")
			}
			if got := sha256.Sum256(raw[0]); !bytes.Equal(got[:], want) {
				return fmt.Errorf("the BMC's certificate has SHA-256 %x, not the pinned one", got)
			}
			return nil
		}
	}
	s := &rfSession{hc: &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tc, Proxy: nil}},
		base: &url.URL{Scheme: u.Scheme, Host: u.Host}, user: t.User, password: t.Password}
	if p := strings.TrimSuffix(u.Path, "/"); strings.HasPrefix(p, "/redfish/v1/Systems/") {
		s.system0 = p
	}
	var tok struct{}
	hdr, err := s.send(ctx, http.MethodPost, "/redfish/v1/SessionService/Sessions",
		map[string]string{"UserName": t.User, "Password": t.Password}, &tok, false)
	var se *statusError
	switch {
	case err == nil && hdr.Get("X-Auth-Token") != "":
		s.token, s.location = hdr.Get("X-Auth-Token"), hdr.Get("Location")
	case err == nil, errors.As(err, &se) && (se.code == http.StatusNotFound || se.code == http.StatusMethodNotAllowed):
		// no session service: basic auth on every request
	default:
		return nil, err
	}
	return s, nil
}

func (s *rfSession) close() {
	if s.location != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.send(ctx, http.MethodDelete, s.location, nil, nil, true) //nolint:errcheck // the session expires anyway
	}
	s.hc.CloseIdleConnections()
}

// system reads the ComputerSystem.
func (s *rfSession) system(ctx context.Context) (*rfSystem, error) {
	if s.system0 == "" {
		var coll struct {
			Members []struct {
				ID string `json:"@odata.id"`
			} `json:"Members"`
		}
		if err := s.do(ctx, http.MethodGet, "/redfish/v1/Systems", nil, &coll); err != nil {
			return nil, err
		}
		if len(coll.Members) != 1 {
			return nil, fmt.Errorf("%w: redfish: the service has %d systems: name one in the address (https://host/redfish/v1/Systems/ID)",
				boot.ErrInvalid, len(coll.Members))
		}
		s.system0 = coll.Members[0].ID
	}
	var sys rfSystem
	if err := s.do(ctx, http.MethodGet, s.system0, nil, &sys); err != nil {
		return nil, err
	}
	if sys.ID == "" {
		sys.ID = s.system0
	}
	return &sys, nil
}

func (s *rfSession) do(ctx context.Context, method, path string, body, out any) error {
	_, err := s.send(ctx, method, path, body, out, true)
	return err
}

// statusError is a Redfish service's refusal.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// send sends one request (authenticated when auth) and decodes a JSON
// answer into out. 401 and 403 are ErrAuth, 503 and 429 ErrTemporary with
// the service's Retry-After (RFC 9110 section 10.2.3), 404 names the path.
func (s *rfSession) send(ctx context.Context, method, path string, body, out any, auth bool) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	ref, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("%w: redfish: bad path %q", boot.ErrPower, path)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base.ResolveReference(ref).String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-Version", "4.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		if s.token != "" {
			req.Header.Set("X-Auth-Token", s.token)
		} else {
			req.SetBasicAuth(s.user, s.password)
		}
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: redfish %s %s: %v", boot.ErrPower, method, path, ctx.Err())
		}
		var ue *url.Error
		if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "certificate") {
			return nil, fmt.Errorf("%w: redfish: the BMC's TLS certificate is not trusted: %v (pin it with --fingerprint)", boot.ErrPower, ue.Err)
		}
		return nil, fmt.Errorf("%w: redfish %s %s: %v", ErrTemporary, method, path, firstLine(err.Error()))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch c := resp.StatusCode; {
	case c == http.StatusUnauthorized, c == http.StatusForbidden:
		return nil, fmt.Errorf("%w (redfish: %s %s answered %d)", ErrAuth, method, path, c)
	case c == http.StatusServiceUnavailable, c == http.StatusTooManyRequests:
		return nil, &retryAfter{error: fmt.Errorf("%w: redfish: %s %s answered %d%s", ErrTemporary, method, path, c, rfMessage(data)),
			after: parseRetryAfter(resp.Header.Get("Retry-After"))}
	case c == http.StatusNotFound, c == http.StatusMethodNotAllowed:
		return nil, &statusError{c, fmt.Sprintf("%v: redfish: %s %s: %d, not found on this service (check the address)%s",
			boot.ErrPower, method, path, c, rfMessage(data))}
	case c >= 300:
		return nil, &statusError{c, fmt.Sprintf("%v: redfish: %s %s answered %d%s", boot.ErrPower, method, path, c, rfMessage(data))}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%w: redfish: %s %s: not a Redfish answer: %v", boot.ErrPower, method, path, err)
		}
	}
	return resp.Header, nil
}

// Unwrap makes statusErrors boot.ErrPower.
func (e *statusError) Unwrap() error { return boot.ErrPower }

// rfMessage is the service's error message (DSP0266 section 9.6's error
// response), for the operator.
func rfMessage(data []byte) string {
	var e struct {
		Error struct {
			Message  string `json:"message"`
			Extended []struct {
				Message string `json:"Message"`
			} `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &e) != nil {
		return ""
	}
	m := e.Error.Message
	if len(e.Error.Extended) > 0 && e.Error.Extended[0].Message != "" {
		m = e.Error.Extended[0].Message
	}
	if m == "" {
		return ""
	}
	return ": " + firstLine(m)
}

// parseRetryAfter reads Retry-After: seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
