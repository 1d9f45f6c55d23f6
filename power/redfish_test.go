package power_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/power"
)

// fakeRedfish is a Redfish service with one ComputerSystem, shaped after
// the DMTF schemas (ServiceRoot, SessionService/Sessions, ComputerSystem
// v1.x with Boot and #ComputerSystem.Reset, DSP0266's error response).
// There is no real BMC here: this is what the Redfish driver is tested on.
type fakeRedfish struct {
	mu        sync.Mutex
	user, pw  string
	power     string   // "On" or "Off"
	allowed   []string // ResetType@Redfish.AllowableValues
	sessions  bool     // the service has a SessionService
	busy      int      // answer this many requests 503 with Retry-After: 1
	resets    []string
	overrides []map[string]string
	requests  []string
	tokens    map[string]bool
}

func newFakeRedfish(t *testing.T) (*fakeRedfish, *httptest.Server) {
	f := &fakeRedfish{user: "root", pw: "calvin-pw", power: "Off", sessions: true, tokens: map[string]bool{},
		allowed: []string{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "PowerCycle"}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the certificate tests' refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return f, srv
}

func fingerprint(srv *httptest.Server) string {
	sum := sha256.Sum256(srv.Certificate().Raw)
	return hex.EncodeToString(sum[:])
}

func rfError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": "Base.1.8.GeneralError", "message": msg,
		"@Message.ExtendedInfo": []map[string]string{{"MessageId": "Base.1.8.GeneralError", "Message": msg}}}})
}

func (f *fakeRedfish) authorized(r *http.Request) bool {
	if f.tokens[r.Header.Get("X-Auth-Token")] {
		return true
	}
	u, p, ok := r.BasicAuth()
	return ok && u == f.user && p == f.pw
}

func (f *fakeRedfish) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	if f.busy > 0 {
		f.busy--
		w.Header().Set("Retry-After", "1")
		rfError(w, http.StatusServiceUnavailable, "The service is temporarily unavailable")
		return
	}
	const sys = "/redfish/v1/Systems/System.Embedded.1"
	switch {
	case r.URL.Path == "/redfish/v1/SessionService/Sessions" && r.Method == http.MethodPost && f.sessions:
		var body struct{ UserName, Password string }
		json.NewDecoder(r.Body).Decode(&body)
		if body.UserName != f.user || body.Password != f.pw {
			rfError(w, http.StatusUnauthorized, "Invalid username or password")
			return
		}
		tok := "tok-" + time.Now().Format("150405.000000000")
		f.tokens[tok] = true
		w.Header().Set("X-Auth-Token", tok)
		w.Header().Set("Location", "/redfish/v1/SessionService/Sessions/1")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"@odata.id": "/redfish/v1/SessionService/Sessions/1", "UserName": body.UserName})
		return
	case strings.HasPrefix(r.URL.Path, "/redfish/v1/SessionService") && !f.sessions:
		rfError(w, http.StatusNotFound, "The resource at the URI "+r.URL.Path+" was not found.")
		return
	case !f.authorized(r):
		rfError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	switch {
	case r.URL.Path == "/redfish/v1/SessionService/Sessions/1" && r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/redfish/v1/Systems" && r.Method == http.MethodGet:
		json.NewEncoder(w).Encode(map[string]any{"@odata.id": "/redfish/v1/Systems", "Members@odata.count": 1,
			"Members": []map[string]string{{"@odata.id": sys}}})
	case r.URL.Path == sys && r.Method == http.MethodGet:
		json.NewEncoder(w).Encode(map[string]any{"@odata.id": sys, "@odata.type": "#ComputerSystem.v1_20_0.ComputerSystem",
			"Id": "System.Embedded.1", "PowerState": f.power,
			"Boot": map[string]any{"BootSourceOverrideEnabled": "Disabled", "BootSourceOverrideTarget": "None",
				"BootSourceOverrideTarget@Redfish.AllowableValues": []string{"None", "Pxe", "Hdd", "Cd", "BiosSetup"}},
			"Actions": map[string]any{"#ComputerSystem.Reset": map[string]any{"target": sys + "/Actions/ComputerSystem.Reset",
				"ResetType@Redfish.AllowableValues": f.allowed}}})
	case r.URL.Path == sys && r.Method == http.MethodPatch:
		var body struct{ Boot map[string]string }
		json.NewDecoder(r.Body).Decode(&body)
		f.overrides = append(f.overrides, body.Boot)
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == sys+"/Actions/ComputerSystem.Reset" && r.Method == http.MethodPost:
		var body struct{ ResetType string }
		json.NewDecoder(r.Body).Decode(&body)
		f.resets = append(f.resets, body.ResetType)
		switch body.ResetType {
		case "On", "ForceRestart", "PowerCycle":
			f.power = "On"
		case "ForceOff":
			f.power = "Off"
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		rfError(w, http.StatusNotFound, "The resource at the URI "+r.URL.Path+" was not found.")
	}
}

func rfTarget(srv *httptest.Server, pw string) power.Target {
	return power.Target{MAC: testMAC, Address: srv.URL, User: "root", Password: pw, Fingerprint: fingerprint(srv)}
}

// TestRedfishReset: each action is the ComputerSystem.Reset type the system
// allows, and the power state follows.
func TestRedfishReset(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		allowed []string
		power   string
		action  boot.PowerAction
		reset   string // "" for none
		want    boot.PowerState
		err     error
	}{
		{"on", nil, "Off", boot.PowerOn, "On", boot.PowerStateOn, nil},
		{"off", nil, "On", boot.PowerOff, "ForceOff", boot.PowerStateOff, nil},
		{"cycle", nil, "On", boot.PowerCycle, "PowerCycle", boot.PowerStateOn, nil},
		{"cycle without PowerCycle", []string{"On", "ForceOff", "ForceRestart"}, "On", boot.PowerCycle, "ForceRestart", boot.PowerStateOn, nil},
		{"cycle when off", nil, "Off", boot.PowerCycle, "On", boot.PowerStateOn, nil},
		{"status", nil, "On", boot.PowerStatus, "", boot.PowerStateOn, nil},
		{"off not allowed", []string{"On", "GracefulShutdown"}, "On", boot.PowerOff, "", "", boot.ErrPowerUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, srv := newFakeRedfish(t)
			f.power = c.power
			if c.allowed != nil {
				f.allowed = c.allowed
			}
			got, err := (&power.Redfish{}).Do(context.Background(), rfTarget(srv, "calvin-pw"), c.action)
			if !errors.Is(err, c.err) || got != c.want {
				t.Fatalf("Do(%s) = %v, %v; want %v, %v", c.action, got, err, c.want, c.err)
			}
			if want := []string{c.reset}; (c.reset == "" && len(f.resets) > 0) || (c.reset != "" && strings.Join(f.resets, ",") != c.reset) {
				t.Errorf("resets = %q, want %q", f.resets, want)
			}
			if last := f.requests[len(f.requests)-1]; last != "DELETE /redfish/v1/SessionService/Sessions/1" {
				t.Errorf("last request %q: want the session deleted", last)
			}
		})
	}
}

// TestRedfishBootOverride: netboot-once patches Boot with Pxe, Once.
func TestRedfishBootOverride(t *testing.T) {
	t.Parallel()
	f, srv := newFakeRedfish(t)
	if _, err := (&power.Redfish{}).Do(context.Background(), rfTarget(srv, "calvin-pw"), boot.PowerNetbootOnce); err != nil {
		t.Fatal(err)
	}
	if len(f.overrides) != 1 || f.overrides[0]["BootSourceOverrideTarget"] != "Pxe" || f.overrides[0]["BootSourceOverrideEnabled"] != "Once" {
		t.Errorf("Boot patches = %v, want one with Pxe, Once", f.overrides)
	}
	if len(f.resets) != 0 {
		t.Errorf("netboot-once reset the machine: %q", f.resets)
	}
}

// TestRedfishBasicAuth: a service without a session service is asked with
// basic auth.
func TestRedfishBasicAuth(t *testing.T) {
	t.Parallel()
	f, srv := newFakeRedfish(t)
	f.sessions = false
	if st, err := (&power.Redfish{}).Do(context.Background(), rfTarget(srv, "calvin-pw"), boot.PowerOn); err != nil || st != boot.PowerStateOn {
		t.Fatalf("Do(on) with basic auth = %v, %v", st, err)
	}
}

// TestRedfishErrors: 401, 404, 503 with Retry-After, and TLS pinning, each
// a clear error; 503 is retried by the Controller after the service's
// Retry-After, a bounded number of times; 401 is not retried.
func TestRedfishErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := testKey(t)
	node := func(srv *httptest.Server, pw, addr string) *boot.Node {
		sealed, _ := key.Seal(testMAC, pw)
		if addr == "" {
			addr = srv.URL
		}
		return &boot.Node{MAC: testMAC, Power: &boot.PowerSettings{Driver: boot.DriverRedfish, Address: addr, User: "root",
			Secret: sealed, Fingerprint: fingerprint(srv)}}
	}
	ctl, err := power.New(power.Config{Key: key, Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("401", func(t *testing.T) {
		t.Parallel()
		f, srv := newFakeRedfish(t)
		_, err := ctl.Power(ctx, node(srv, "wrong-pw", ""), boot.PowerOn)
		if !errors.Is(err, power.ErrAuth) || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-pw") {
			t.Fatalf("Power with a wrong password = %v, want ErrAuth naming the 401 and not the password", err)
		}
		if len(f.requests) != 1 {
			t.Errorf("requests = %q, want the one refused login", f.requests)
		}
	})
	t.Run("404", func(t *testing.T) {
		t.Parallel()
		f, srv := newFakeRedfish(t)
		_, err := ctl.Power(ctx, node(srv, "calvin-pw", srv.URL+"/redfish/v1/Systems/Nope"), boot.PowerOn)
		if !errors.Is(err, boot.ErrPower) || errors.Is(err, power.ErrTemporary) || !strings.Contains(err.Error(), "404") ||
			!strings.Contains(err.Error(), "not found") {
			t.Fatalf("Power on a missing system = %v, want a 404 naming the path", err)
		}
		if len(f.resets) != 0 {
			t.Errorf("resets %q", f.resets)
		}
	})
	t.Run("503 then ok", func(t *testing.T) {
		t.Parallel()
		f, srv := newFakeRedfish(t)
		f.busy = 1
		start := time.Now()
		st, err := ctl.Power(ctx, node(srv, "calvin-pw", ""), boot.PowerOn)
		if err != nil || st != boot.PowerStateOn {
			t.Fatalf("Power after one 503 = %v, %v", st, err)
		}
		if took := time.Since(start); took < 900*time.Millisecond {
			t.Errorf("retried after %s: want the service's Retry-After of 1s", took)
		}
	})
	t.Run("503 always", func(t *testing.T) {
		t.Parallel()
		f, srv := newFakeRedfish(t)
		f.busy = 100
		_, err := ctl.Power(ctx, node(srv, "calvin-pw", ""), boot.PowerOn)
		if !errors.Is(err, power.ErrTemporary) || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "after 3 attempts") {
			t.Fatalf("Power against a busy service = %v, want ErrTemporary after 3 attempts", err)
		}
		if len(f.requests) != power.DefaultAttempts {
			t.Errorf("requests = %d, want %d", len(f.requests), power.DefaultAttempts)
		}
	})
	t.Run("certificate", func(t *testing.T) {
		t.Parallel()
		_, srv := newFakeRedfish(t)
		n := node(srv, "calvin-pw", "")
		n.Power.Fingerprint = strings.Repeat("ab", 32)
		if _, err := ctl.Power(ctx, n, boot.PowerOn); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("Power with another pinned certificate = %v, want a certificate error", err)
		}
		n.Power.Fingerprint = "" // the test server's CA is not the system's
		if _, err := ctl.Power(ctx, n, boot.PowerOn); err == nil || !strings.Contains(err.Error(), "not trusted") {
			t.Errorf("Power without a pin = %v, want the certificate not trusted", err)
		}
	})
}
