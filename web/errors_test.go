package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	const node = "/api/v1/nodes/52:54:00:12:34:56"
	checkErrors(t, []errorCase{
		{"bad MAC in path", false, http.MethodGet, "/api/v1/nodes/52:54:00:12:34", "", 400, "bad MAC address"},
		{"bad MAC in body", false, http.MethodPost, "/api/v1/nodes", `{"mac":"nope","image":"alpine"}`, 400, "bad MAC address"},
		{"no MAC", false, http.MethodPost, "/api/v1/nodes", `{"image":"alpine"}`, 400, `"mac" and "image" are required`},
		{"no image", false, http.MethodPost, "/api/v1/nodes", `{"mac":"52:54:00:aa:bb:cc"}`, 400, `"mac" and "image" are required`},
		{"unknown image", false, http.MethodPost, "/api/v1/nodes", `{"mac":"52:54:00:aa:bb:cc","image":"gentoo"}`, 400, `unknown image "gentoo"`},
		{"bad hostname", false, http.MethodPost, "/api/v1/nodes", `{"mac":"52:54:00:aa:bb:cc","image":"alpine","hostname":"Web_1"}`, 400, "bad hostname"},
		{"bad size", false, http.MethodPost, "/api/v1/nodes", `{"mac":"52:54:00:aa:bb:cc","image":"alpine","size":"20X"}`, 400, "bad size"},
		{"size as number", false, http.MethodPost, "/api/v1/nodes", `{"mac":"52:54:00:aa:bb:cc","image":"alpine","size":20}`, 400, `field "size" must be a JSON string`},
		{"double enroll", false, http.MethodPost, "/api/v1/nodes", `{"mac":"52-54-00-12-34-56","image":"debian"}`, 409, "already enrolled"},
		{"unknown node", false, http.MethodGet, "/api/v1/nodes/52:54:00:00:00:99", "", 404, "unknown machine"},
		{"forget unknown node", false, http.MethodDelete, "/api/v1/nodes/52:54:00:00:00:99", "", 404, "unknown machine"},
		{"forget node with volume", true, http.MethodDelete, node, "", 400, "retire it first"},
		{"assign unknown node", false, http.MethodPost, "/api/v1/nodes/52:54:00:00:00:99/assign", `{"image":"debian"}`, 404, "unknown machine"},
		{"assign unknown image", false, http.MethodPost, node + "/assign", `{"image":"gentoo"}`, 400, `unknown image "gentoo"`},
		{"assign no image", false, http.MethodPost, node + "/assign", `{}`, 400, `"image" is required`},
		{"reimage without volumes", false, http.MethodPost, node + "/reimage", "", 409, "no volume backend"},
		{"reimage unknown node", true, http.MethodPost, "/api/v1/nodes/52:54:00:00:00:99/reimage", "", 404, "unknown machine"},
		{"netboot missing enabled", false, http.MethodPut, node + "/netboot", `{}`, 400, `"enabled" is required`},
		{"netboot not a boolean", false, http.MethodPut, node + "/netboot", `{"enabled":"yes"}`, 400, `field "enabled" must be a JSON boolean`},
		{"timeline unknown node", false, http.MethodGet, "/api/v1/nodes/52:54:00:00:00:99/timeline", "", 404, "unknown machine"},
		{"unknown image by name", false, http.MethodGet, "/api/v1/images/gentoo", "", 404, `unknown image "gentoo"`},
		{"bad state", false, http.MethodGet, "/api/v1/nodes?state=enrolled,sleeping", "", 400, `unknown state "sleeping"`},
		{"bad JSON", false, http.MethodPost, "/api/v1/nodes", `{"mac":`, 400, "bad JSON body"},
		{"bad JSON syntax", false, http.MethodPost, "/api/v1/nodes", `{"mac" "x"}`, 400, "bad JSON body at byte"},
		{"unknown field", false, http.MethodPost, "/api/v1/nodes", `{"mac":"52:54:00:aa:bb:cc","image":"alpine","colour":"red"}`, 400, `unknown field "colour"`},
		{"empty body", false, http.MethodPost, "/api/v1/nodes", "", 400, "empty request body"},
		{"not an object", false, http.MethodPost, "/api/v1/nodes", `["mac"]`, 400, "want a JSON object"},
		{"two objects", false, http.MethodPut, node + "/netboot", `{"enabled":true}{"enabled":false}`, 400, "nothing after it"},
		{"body too large", false, http.MethodPost, "/api/v1/nodes",
			`{"mac":"52:54:00:aa:bb:cc","image":"alpine","hostname":"` + strings.Repeat("a", maxBody) + `"}`, 400, "larger than 64 KiB"},
	})
}

// TestUserAPIErrors: the users routes' refusals are the client's (4xx,
// with the reason), not 500s. The fixture's token is the only admin's.
func TestUserAPIErrors(t *testing.T) {
	t.Parallel()
	checkErrors(t, []errorCase{
		{"bad role", false, http.MethodPost, "/api/v1/users", `{"name":"ann","role":"boss"}`, 400, `unknown role "boss"`},
		{"bad name", false, http.MethodPost, "/api/v1/users", `{"name":"Ann!","role":"viewer"}`, 400, "user name"},
		{"short password", false, http.MethodPost, "/api/v1/users", `{"name":"ann","role":"viewer","password":"short"}`, 400, "at least 8"},
		{"user exists", false, http.MethodPost, "/api/v1/users", `{"name":"admin","role":"viewer"}`, 409, "user exists"},
		{"last admin removed", false, http.MethodDelete, "/api/v1/users/admin", "", 409, "last admin"},
		{"last admin demoted", false, http.MethodPut, "/api/v1/users/admin/role", `{"role":"viewer"}`, 409, "last admin"},
		{"role of unknown user", false, http.MethodPut, "/api/v1/users/nobody/role", `{"role":"viewer"}`, 404, "unknown user"},
		{"remove unknown user", false, http.MethodDelete, "/api/v1/users/nobody", "", 404, "unknown user"},
		{"token for unknown user", false, http.MethodPost, "/api/v1/users/nobody/tokens", "", 404, "unknown user"},
		{"revoke unknown token", false, http.MethodDelete, "/api/v1/users/admin/tokens/0123456789ab", "", 404, "unknown token"},
	})
}

// errorCase is a request the API refuses, with the status and a part of the
// error message it answers.
type errorCase struct {
	name               string
	volumes            bool // a fixture with a volume backend
	method, path, body string
	want               int
	wantMsg            string
}

// checkErrors serves each case, in parallel, on a fresh fixture where
// 52:54:00:12:34:56 is enrolled with alpine.
func checkErrors(t *testing.T, cases []errorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.volumes)
			f.enroll(t, "52:54:00:12:34:56", "alpine")
			rec := f.do(t, tc.method, tc.path, tc.body)
			if rec.Code != tc.want {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, rec.Code, rec.Body, tc.want)
			}
			if msg := errorOf(t, rec); !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("%s %s: error %q, want it to contain %q", tc.method, tc.path, msg, tc.wantMsg)
			}
		})
	}
}

func TestStoreFailureIs500(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.store.err = errors.New("open /var/lib/bootd/state.db: input/output error")
	for _, rt := range apiRoutes() {
		if strings.HasPrefix(rt.path, "/api/v1/images") || rt.path == "/api/v1/reconcile" {
			continue // the catalog does not fail; without volumes, reconcile reads no store
		}
		rec := f.do(t, rt.method, rt.path, rt.body)
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("%s %s = %d, want %d", rt.method, rt.path, rec.Code, http.StatusInternalServerError)
			continue
		}
		if msg := errorOf(t, rec); msg != internalMessage {
			t.Errorf("%s %s: error %q, want %q", rt.method, rt.path, msg, internalMessage)
		}
	}
	if log := f.log.String(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "/var/lib/bootd/state.db") {
		t.Errorf("log does not have the cause at Error level:\n%s", log)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want int
	}{
		{fmt.Errorf("x: %w", boot.ErrInvalid), 400},
		{boot.ErrUnknownImage, 400},
		{badRequest("bad"), 400},
		{fmt.Errorf("x: %w", boot.ErrUnknown), 404},
		{missingError{boot.ErrUnknownImage}, 404},
		{errNoRoute, 404},
		{fmt.Errorf("x: %w", boot.ErrExists), 409},
		{fmt.Errorf("x: %w", boot.ErrNoVolumes), 409},
		{errToken, 401},
		{errMethod, 405},
		{fmt.Errorf("%w: osd blocklist: access denied", boot.ErrDenied), 502},
		{errors.New("open /etc/secret: no"), 500},
	}
	for _, tt := range tests {
		code, msg := status(tt.err)
		if code != tt.want {
			t.Errorf("status(%v) = %d, want %d", tt.err, code, tt.want)
		}
		if code == 500 && strings.Contains(msg, "/etc") {
			t.Errorf("status(%v) message %q leaks the cause", tt.err, msg)
		}
	}
}
