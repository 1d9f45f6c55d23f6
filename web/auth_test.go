package web

import (
	"net/http"
	"strings"
	"testing"
)

// route is a request to send.
type route struct{ method, path, body string }

// apiRoutes is every route of /api/v1, with a body it accepts once
// 52:54:00:12:34:56 is enrolled.
func apiRoutes() []route {
	const mac = "52:54:00:12:34:56"
	return append(volumeRoutes(mac), []route{
		{http.MethodGet, "/api/v1/nodes", ""},
		{http.MethodPost, "/api/v1/nodes", `{"mac":"52:54:00:aa:bb:cc","image":"alpine"}`},
		{http.MethodGet, "/api/v1/nodes/" + mac, ""},
		{http.MethodDelete, "/api/v1/nodes/" + mac, ""},
		{http.MethodPost, "/api/v1/nodes/" + mac + "/assign", `{"image":"debian"}`},
		{http.MethodPost, "/api/v1/nodes/" + mac + "/reimage", ""},
		{http.MethodPut, "/api/v1/nodes/" + mac + "/netboot", `{"enabled":false}`},
		{http.MethodGet, "/api/v1/nodes/" + mac + "/timeline", ""},
		{http.MethodGet, "/api/v1/nodes/" + mac + "/explain", ""},
		{http.MethodGet, "/api/v1/discovered", ""},
		{http.MethodGet, "/api/v1/images", ""},
		{http.MethodGet, "/api/v1/images/alpine", ""},
	}...)
}

func TestAPIRefusesWithoutToken(t *testing.T) {
	t.Parallel()
	auths := []struct{ name, header string }{
		{"none", ""},
		{"wrong", "Bearer 0000000000000000000000000000000000000000000000000000000000000000"},
		{"prefix", "Bearer " + testToken[:32]},
		{"longer", "Bearer " + testToken + "0"},
		{"no scheme", testToken},
		{"basic", "Basic " + testToken},
		{"scheme only", "Bearer"},
		{"empty token", "Bearer "},
	}
	// Routes that do not exist are refused too: no token, no map of the API.
	routes := append(apiRoutes(),
		route{http.MethodGet, "/api/v1/nope", ""},
		route{http.MethodPatch, "/api/v1/nodes", ""})
	for _, rt := range routes {
		for _, a := range auths {
			t.Run(rt.method+" "+rt.path+" "+a.name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, true)
				f.enroll(t, "52:54:00:12:34:56", "alpine")
				rec := f.doAuth(t, rt.method, rt.path, rt.body, a.header)
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("%s %s = %d, want %d", rt.method, rt.path, rec.Code, http.StatusUnauthorized)
				}
				if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("WWW-Authenticate = %q, want Bearer", got)
				}
				if got, want := errorOf(t, rec), "missing or wrong API token"; got != want {
					t.Errorf("error = %q, want %q", got, want)
				}
				// Nothing changed behind the refusal.
				n, err := f.svc.Node(t.Context(), mustMAC(t, "52:54:00:12:34:56"))
				if err != nil || n.Image != "alpine" || !n.Netboot {
					t.Errorf("node after refused request = %+v, %v; want it unchanged", n, err)
				}
				if nodes, _ := f.svc.Nodes(t.Context()); len(nodes) != 1 {
					t.Errorf("%d nodes after refused request, want 1", len(nodes))
				}
			})
		}
	}
}

func TestAPIAcceptsToken(t *testing.T) {
	t.Parallel()
	for _, rt := range apiRoutes() {
		for _, header := range []string{"Bearer " + testToken, "bearer " + testToken, "Bearer  " + testToken + " "} {
			t.Run(rt.method+" "+rt.path, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, true)
				f.enroll(t, "52:54:00:12:34:56", "alpine")
				rec := f.doAuth(t, rt.method, rt.path, rt.body, header)
				if rec.Code == http.StatusUnauthorized {
					t.Fatalf("%s %s with %q = %d %s, want the token accepted", rt.method, rt.path, header[:7], rec.Code, rec.Body)
				}
			})
		}
	}
}

func TestTokenNeverLogged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	for _, rt := range apiRoutes() {
		f.do(t, rt.method, rt.path, rt.body)
		f.doAuth(t, rt.method, rt.path, rt.body, "Bearer wrong-"+testToken[:20])
	}
	log := f.log.String()
	if !strings.Contains(log, "http request") {
		t.Fatalf("no request was logged at Debug:\n%s", log)
	}
	for _, secret := range []string{testToken, testToken[:20], "Authorization", "Bearer"} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains %q:\n%s", secret, log)
		}
	}
}
