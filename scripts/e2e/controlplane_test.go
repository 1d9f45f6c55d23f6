//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testControlPlane: the attacker, a host of the boot network with its own
// lease, asks bootd's boot listener for the API, the dashboard and the
// metrics, without a token and with the first admin's (as if it had leaked):
// every answer is a 404. The admin listener is not reachable from the boot
// network at all (it is on bootd's loopback): the connection fails.
func (r *rig) testControlPlane(t *testing.T, a *attacker) {
	token, err := os.ReadFile(filepath.Join(r.data, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/v1/nodes", "/api/v1/users", "/api/v1/audit", "/api/v1/backup",
		"/machines", "/login", "/audit", "/metrics", "/healthz", "/"} {
		for _, auth := range []string{"", strings.TrimSpace(string(token))} {
			out := string(a.curlAuth(t, "http://"+httpAddr+p, auth))
			if !strings.Contains(out, "[HTTP 404]") {
				t.Errorf("attacker: GET %s on the boot listener (token %v) = %q, want a 404", p, auth != "", out)
			}
		}
	}
	for _, port := range []string{"9443", "8080"} {
		out := string(a.curlAuth(t, "https://"+bridgeAddr+":"+port+"/api/v1/nodes", ""))
		if strings.Contains(out, "[HTTP 2") || strings.Contains(out, "[HTTP 401]") {
			t.Errorf("attacker: the admin API answered on %s:%s: %q", bridgeAddr, port, out)
		}
	}
}
