package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
)

// sealedMark is what webPower's Seal returns: a stand-in for a sealed
// password that no answer may show.
const sealedMark = "sealed:v1:CIPHERTEXT-NEVER-SHOWN"

// webPower is a boot.Power that keeps each machine's power and the actions
// asked; a node whose address is "refuses" is a BMC refusing the password.
type webPower struct {
	mu      sync.Mutex
	on      bool
	actions []boot.PowerAction
}

func (p *webPower) Seal(boot.MAC, string) (string, error) { return sealedMark, nil }

func (p *webPower) Power(_ context.Context, n *boot.Node, a boot.PowerAction) (boot.PowerState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.actions = append(p.actions, a)
	if n.Power.Address == "refuses" {
		return "", fmt.Errorf("%w: the BMC refused the user name or password (ipmi: log in to refuses)", boot.ErrPower)
	}
	switch a {
	case boot.PowerOn, boot.PowerCycle:
		p.on = true
	case boot.PowerOff:
		p.on = false
	}
	if p.on {
		return boot.PowerStateOn, nil
	}
	return boot.PowerStateOff, nil
}

// TestPowerAPI: settings take a password that no answer shows; power
// actions are an operator's, audited, on the timeline with the user, and a
// BMC's refusal is a 502 with its message.
func TestPowerAPI(t *testing.T) {
	t.Parallel()
	wp := &webPower{}
	g := newGuardFixture(t, func(c *boot.Config) { c.Power = wp })
	const mac = "52:54:00:12:34:56"
	g.enroll(t, mac, "alpine")
	op := access.RoleOperator
	settings := `{"driver":"ipmi","address":"10.0.0.21","user":"root","password":"calvin-secret"}`
	if rec := g.api(t, access.RoleViewer, "PUT", "/api/v1/nodes/"+mac+"/power/settings", settings); rec.Code != http.StatusForbidden {
		t.Errorf("viewer sets power: %d, want 403", rec.Code)
	}
	rec := g.api(t, op, "PUT", "/api/v1/nodes/"+mac+"/power/settings", settings)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"secret":"sealed"`) {
		t.Fatalf("PUT power/settings = %d %s", rec.Code, rec.Body)
	}
	// No answer shows the password or its sealed form.
	for _, path := range []string{"/api/v1/nodes", "/api/v1/nodes/" + mac, "/api/v1/discovered", "/api/v1/nodes/" + mac + "/timeline",
		"/api/v1/audit", "/api/v1/nodes/" + mac + "/explain"} {
		rec := g.api(t, access.RoleAdmin, "GET", path, "")
		if b := rec.Body.String(); strings.Contains(b, "calvin-secret") || strings.Contains(b, "CIPHERTEXT") {
			t.Errorf("GET %s shows the BMC password: %s", path, b)
		}
	}
	if b := g.dashboardAs(t, access.RoleAdmin).get(t, "/machines/"+mac).Body.String(); strings.Contains(b, "CIPHERTEXT") ||
		strings.Contains(b, "calvin-secret") {
		t.Error("the machine page shows the BMC password")
	}
	if n, _ := g.svc.Node(context.Background(), mustMAC(t, mac)); n.Power.Secret != sealedMark {
		t.Errorf("stored secret = %q, want the sealed form", n.Power.Secret)
	}

	if rec := g.api(t, access.RoleViewer, "POST", "/api/v1/nodes/"+mac+"/power", `{"action":"cycle"}`); rec.Code != http.StatusForbidden {
		t.Errorf("viewer cycles: %d, want 403", rec.Code)
	}
	rec = g.api(t, op, "POST", "/api/v1/nodes/"+mac+"/power", `{"action":"cycle"}`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"power":"on"`) {
		t.Fatalf("POST power cycle = %d %s", rec.Code, rec.Body)
	}
	if r := g.records(t)[0]; r.User != "the-operator" || r.Action != access.ActionPower || r.Target != "cycle" || r.Outcome != access.OutcomeOK {
		t.Errorf("audit record %+v", r)
	}
	g.svc.Flush(context.Background())
	if rec := g.api(t, op, "GET", "/api/v1/nodes/"+mac+"/timeline", ""); !strings.Contains(rec.Body.String(), "power cycle requested by the-operator") {
		t.Errorf("timeline: %s", rec.Body)
	}
	if rec := g.api(t, op, "GET", "/api/v1/nodes/"+mac+"/power", ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"power":"on"`) {
		t.Errorf("GET power = %d %s", rec.Code, rec.Body)
	}
	// netboot once also tells the BMC.
	rec = g.api(t, op, "PUT", "/api/v1/nodes/"+mac+"/netboot", `{"enabled":true,"once":true}`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "the BMC boots it from the network at its next boot") {
		t.Errorf("netboot once = %d %s", rec.Code, rec.Body)
	}
	if last := wp.actions[len(wp.actions)-1]; last != boot.PowerNetbootOnce {
		t.Errorf("last action %s, want netboot-once", last)
	}
	// A BMC that refuses: 502, its message, audited as an error.
	g.api(t, op, "PUT", "/api/v1/nodes/"+mac+"/power/settings", `{"driver":"ipmi","address":"refuses","user":"root","password":"x"}`)
	rec = g.api(t, op, "POST", "/api/v1/nodes/"+mac+"/power", `{"action":"on"}`)
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "refused the user name or password") {
		t.Errorf("POST power with a refused password = %d %s, want 502 with the BMC's refusal", rec.Code, rec.Body)
	}
	if r := g.records(t)[0]; r.Outcome != access.OutcomeError || !strings.Contains(r.Error, "refused") {
		t.Errorf("audit record of the refusal %+v", r)
	}
	// No driver, or a node unknown.
	g.enroll(t, "52:54:00:00:00:09", "alpine")
	if rec := g.api(t, op, "POST", "/api/v1/nodes/52:54:00:00:00:09/power", `{"action":"on"}`); rec.Code != http.StatusConflict ||
		!strings.Contains(rec.Body.String(), "no power driver") {
		t.Errorf("power of a node without a driver = %d %s, want 409", rec.Code, rec.Body)
	}
}

// TestPowerDashboard: the machine page offers power buttons for a machine
// with a driver; each asks first on its confirmation page, and only the
// confirmed form acts (an operator's, audited, with the action).
func TestPowerDashboard(t *testing.T) {
	t.Parallel()
	wp := &webPower{}
	g := newGuardFixture(t, func(c *boot.Config) { c.Power = wp })
	const mac = "52:54:00:12:34:57"
	g.enroll(t, mac, "alpine")
	g.api(t, access.RoleOperator, "PUT", "/api/v1/nodes/"+mac+"/power/settings", `{"driver":"hook","address":"poe1:7"}`)
	b := g.dashboardAs(t, access.RoleOperator)
	if page := b.get(t, "/machines/"+mac).Body.String(); !strings.Contains(page, `id="power-cycle"`) || !strings.Contains(page, "through hook at poe1:7") {
		t.Fatalf("machine page has no power buttons:\n%s", page)
	}
	page := b.get(t, "/machines/"+mac+"/power?action=cycle").Body.String()
	if !strings.Contains(page, `<dd id="power-action">cycle</dd>`) || !strings.Contains(page, "without a shutdown") {
		t.Fatalf("confirmation page:\n%s", page)
	}
	if rec := b.post(t, "/machines/"+mac+"/power", "action", "cycle"); rec.Code != http.StatusSeeOther ||
		!strings.HasPrefix(rec.Header().Get("Location"), "/machines/"+mac+"/power?action=cycle") || len(wp.actions) != 0 {
		t.Errorf("unconfirmed POST = %d to %q, actions %v; want the confirmation page and nothing done", rec.Code, rec.Header().Get("Location"), wp.actions)
	}
	rec := b.post(t, "/machines/"+mac+"/power", "confirm", "yes", "action", "cycle")
	if rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Location"), "done=power-cycle") || len(wp.actions) != 1 {
		t.Fatalf("confirmed POST = %d to %q, actions %v", rec.Code, rec.Header().Get("Location"), wp.actions)
	}
	if r := g.records(t)[0]; r.Via != access.ViaDashboard || r.Action != access.ActionPower || r.Target != "cycle" || r.User != "the-operator" {
		t.Errorf("audit record %+v", r)
	}
	v := g.dashboardAs(t, access.RoleViewer)
	if rec := v.post(t, "/machines/"+mac+"/power", "confirm", "yes", "action", "off"); rec.Code != http.StatusForbidden || len(wp.actions) != 1 {
		t.Errorf("viewer's power off = %d, actions %v; want 403 and nothing done", rec.Code, wp.actions)
	}
}
