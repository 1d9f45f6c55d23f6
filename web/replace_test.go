package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
)

// TestReplaceAPI: POST /nodes/{mac}/replace moves the node to the new MAC
// and retires the old one; bad bodies, the same MAC, an unknown machine and
// an enrolled new MAC are refused with their status; an operator may not.
func TestReplaceAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	ctx := t.Context()
	old, other := mustMAC(t, "52:54:00:00:00:01"), mustMAC(t, "52:54:00:00:00:02")
	for _, m := range []boot.MAC{old, other} {
		if _, err := f.svc.Enroll(ctx, boot.EnrollRequest{MAC: m, Image: "debian"}); err != nil {
			t.Fatal(err)
		}
	}
	path := "/api/v1/nodes/" + old.String() + "/replace"
	for _, tc := range []struct {
		name, path, body string
		code             int
		want             string
	}{
		{"no body", path, "", 400, ""},
		{"bad MAC", path, `{"new":"52:54:zz"}`, 400, "new"},
		{"same MAC", path, `{"new":"52:54:00:00:00:01"}`, 400, "same"},
		{"unknown machine", "/api/v1/nodes/52:54:00:00:00:09/replace", `{"new":"52:54:00:00:00:03"}`, 404, "unknown machine"},
		{"enrolled new", path, `{"new":"52:54:00:00:00:02"}`, 409, "enrolled already"},
	} {
		rec := f.do(t, http.MethodPost, tc.path, tc.body)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %d %s, want %d mentioning %q", tc.name, rec.Code, rec.Body, tc.code, tc.want)
		}
	}
	rec := f.do(t, http.MethodPost, path, `{"new":"52-54-00-00-00-03"}`)
	var nb nodeBody
	decode(t, rec, &nb)
	if rec.Code != 200 || nb.Node.MAC.String() != "52:54:00:00:00:03" || nb.Node.Volume != boot.VolumeName(old) {
		t.Fatalf("replace = %d %+v, want the node under 52:54:00:00:00:03 with volume %s", rec.Code, nb.Node, boot.VolumeName(old))
	}
	if n, _ := f.svc.Node(ctx, old); n.State != boot.StateRetired || n.ReplacedBy.String() != "52:54:00:00:00:03" {
		t.Errorf("old node = %+v, want retired, replaced by 52:54:00:00:00:03", n)
	}
	if f.vols.Rekeys(boot.VolumeName(old)) != 1 {
		t.Errorf("the volume's key was made anew %d times, want once", f.vols.Rekeys(boot.VolumeName(old)))
	}
}

// TestReplaceDashboard: from a discovered machine's page, choose the dead
// machine it replaces; the confirmation page has the new MAC filled in and
// a POST with confirm moves the node, for an admin. An operator is refused.
func TestReplaceDashboard(t *testing.T) {
	t.Parallel()
	g := newGuardFixture(t)
	ctx := t.Context()
	old, seen := mustMAC(t, "52:54:00:00:00:01"), mustMAC(t, "52:54:00:00:00:0a")
	if _, err := g.svc.Enroll(ctx, boot.EnrollRequest{MAC: old, Image: "debian", Hostname: "db1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.svc.Discover(ctx, boot.Sighting{MAC: seen, Arch: "x64-uefi"}); err != nil {
		t.Fatal(err)
	}
	admin := g.dashboardAs(t, access.RoleAdmin)
	page := admin.get(t, "/machines/"+seen.String())
	if !strings.Contains(page.Body.String(), `id="replaces"`) || !strings.Contains(text(page), "db1 ("+old.String()+")") {
		t.Fatalf("the discovered machine's page offers no replace of db1:\n%s", text(page))
	}
	rec := admin.get(t, "/replace?old="+old.String()+"&new="+seen.String())
	if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || loc != "/machines/"+old.String()+"/replace?new="+strings.ReplaceAll(seen.String(), ":", "%3A") {
		t.Fatalf("GET /replace = %d to %q", rec.Code, loc)
	}
	confirm := admin.get(t, "/machines/"+old.String()+"/replace?new="+seen.String())
	if !strings.Contains(confirm.Body.String(), `value="`+seen.String()+`"`) {
		t.Errorf("the confirmation page does not fill in %s", seen)
	}
	if rec := g.dashboardAs(t, access.RoleOperator).post(t, "/machines/"+old.String()+"/replace", "confirm", "yes", "new", seen.String()); rec.Code != http.StatusForbidden {
		t.Errorf("operator's replace = %d, want 403", rec.Code)
	}
	if rec := admin.post(t, "/machines/"+old.String()+"/replace", "confirm", "yes", "new", "zz"); rec.Code != http.StatusBadRequest {
		t.Errorf("replace by a bad MAC = %d, want 400 on the confirmation page", rec.Code)
	}
	rec = admin.post(t, "/machines/"+old.String()+"/replace", "confirm", "yes", "new", seen.String())
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/machines/"+seen.String()) {
		t.Fatalf("replace = %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	after := text(admin.get(t, rec.Header().Get("Location")))
	if !strings.Contains(after, "took the place of the machine it replaces") || !strings.Contains(after, "Took the place of "+old.String()) {
		t.Errorf("the new machine's page after the replace:\n%s", after)
	}
	if n, _ := g.svc.Node(ctx, seen); n.Hostname != "db1" || n.State != boot.StateEnrolled {
		t.Errorf("new node = %+v, want db1 enrolled", n)
	}
	if recs := g.records(t); recs[0].Action != access.ActionReplace || !strings.Contains(recs[0].Target, seen.String()) {
		t.Errorf("audit record %+v, want replace to %s", recs[0], seen)
	}
}
