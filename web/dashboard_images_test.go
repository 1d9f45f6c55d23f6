package web

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
)

// goldenOf returns what the images page says of image name's golden snapshot.
func goldenOf(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr data-image="` + name + `">.*?<span class="state gs-([a-z]+)">([^<]*)</span>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1] + ": " + m[2]
}

// goldenFixture is a dashboard whose catalog has an image in every golden
// state: alpine protected, debian unprotected, fedora missing, and arch on
// a cluster that does not answer.
func goldenFixture(t *testing.T) *fixture {
	t.Helper()
	f := newDashFixture(t, true, nil)
	for _, name := range []string{"fedora", "arch"} {
		f.catalog.images[name] = &boot.Image{Name: name, Flavour: boot.FlavourInitramfsTools, Arch: "amd64",
			Golden: boot.GoldenRef{Pool: "rbd", Image: name, Snapshot: "golden"}, SizeBytes: 10 << 30}
	}
	ref := func(name string) boot.GoldenRef { return f.catalog.images[name].Golden }
	f.vols.SetGolden(ref("debian"), fmt.Errorf("%w: rbd/debian@golden", boot.ErrUnprotected))
	f.vols.SetGolden(ref("fedora"), fmt.Errorf("%w: image rbd/fedora", boot.ErrNotFound))
	f.vols.SetGolden(ref("arch"), errors.New("rados: timed out talking to mon 10.9.8.7"))
	f.enroll(t, "52:54:00:00:00:01", "alpine")
	return f
}

func TestDashboardImagesGolden(t *testing.T) {
	t.Parallel()
	f := goldenFixture(t)
	b := login(t, f)
	rec := b.get(t, "/images")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /images = %d", rec.Code)
	}
	body := rec.Body.String()
	for _, tt := range []struct{ image, want string }{
		{"alpine", "protected: ✓ protected"},
		{"debian", "unprotected: ! not protected: no clones until it is"},
		{"fedora", "missing: ✕ missing from the cluster"},
		{"arch", "unknown: ? not checked: the cluster did not answer (see the log)"},
	} {
		if got := goldenOf(t, body, tt.image); got != tt.want {
			t.Errorf("golden state of %s = %q, want %q", tt.image, got, tt.want)
		}
	}
	if strings.Count(body, `/protect"`) != 1 || !strings.Contains(body, `action="/images/debian/protect"`) {
		t.Errorf("want one protect form, for debian")
	}
	if !regexp.MustCompile(`(?s)data-image="alpine">.*?<a href="/machines\?q=alpine">1</a>`).MatchString(body) {
		t.Errorf("the page does not count 1 machine for alpine")
	}
	if strings.Contains(body, "10.9.8.7") || !strings.Contains(f.log.String(), "10.9.8.7") {
		t.Errorf("the failed check's cause is on the page or missing from the log")
	}

	// Protect debian's golden snapshot.
	rec = b.post(t, "/images/debian/protect")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/images?done=protected&image=debian" {
		t.Fatalf("POST /images/debian/protect = %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = b.get(t, "/images?done=protected&image=debian")
	if got := goldenOf(t, rec.Body.String(), "debian"); got != "protected: ✓ protected" || !strings.Contains(text(rec), "Protected the golden snapshot of debian") {
		t.Errorf("after protect: debian is %q, page says %q", got, text(rec))
	}
}

func TestDashboardProtectRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, image string
		volumes     bool
		want        int
		field, msg  string // the message next to the image's row, or on the error page
	}{
		{"missing golden", "fedora", true, 404, "img-fedora", "not found: image rbd/fedora"},
		{"unknown image", "gentoo", true, 404, "", `unknown image "gentoo"`},
		{"cluster down", "arch", true, 500, "", internalMessage},
		{"no volume backend", "debian", false, 409, "img-debian", "no volume backend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var f *fixture
			if tt.volumes {
				f = goldenFixture(t)
			} else {
				f = newDashFixture(t, false, nil)
			}
			b := login(t, f)
			rec := b.post(t, "/images/"+tt.image+"/protect")
			if rec.Code != tt.want {
				t.Fatalf("POST /images/%s/protect = %d, want %d\n%s", tt.image, rec.Code, tt.want, text(rec))
			}
			if tt.field != "" {
				if got := fieldError(rec, tt.field); !strings.Contains(got, tt.msg) {
					t.Errorf("message next to %s = %q, want %q", tt.field, got, tt.msg)
				}
			} else if !strings.Contains(text(rec), tt.msg) || strings.Contains(text(rec), "10.9.8.7") {
				t.Errorf("error page lacks %q or shows the cause:\n%s", tt.msg, text(rec))
			}
			if !tt.volumes && !strings.Contains(text(rec), "No volume backend") {
				t.Errorf("the images page without a backend does not say so")
			}
		})
	}
}
