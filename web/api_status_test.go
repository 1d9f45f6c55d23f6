package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
)

// instanceStore is the fixture's memStore with instance records.
type instanceStore struct {
	*memStore
	mu   sync.Mutex
	recs []boot.Instance // sorted by ID
}

func (s *instanceStore) PutInstance(_ context.Context, in boot.Instance) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = slices.DeleteFunc(s.recs, func(r boot.Instance) bool { return r.ID == in.ID })
	s.recs = append(s.recs, in)
	slices.SortFunc(s.recs, func(a, b boot.Instance) int { return strings.Compare(a.ID, b.ID) })
	return nil
}

func (s *instanceStore) Instances(context.Context) ([]boot.Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs), nil
}

func (s *instanceStore) DeleteInstance(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = slices.DeleteFunc(s.recs, func(r boot.Instance) bool { return r.ID == id })
	return nil
}

// instanceFixture is a dashboard fixture whose service is instance boot-a,
// its store holding boot-a's heartbeat (5 s old) and boot-b's (2 minutes).
func instanceFixture(t *testing.T) *fixture {
	t.Helper()
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return buildFixture(t, false, func() time.Time { return clock }, Config{Version: "v1.2.3", SessionKey: []byte(testSessionKey)},
		func(c *boot.Config) {
			c.Instance = "boot-a"
			c.Store = &instanceStore{memStore: c.Store.(*memStore), recs: []boot.Instance{
				{ID: "boot-a", Addr: "http://198.18.0.1:8080", Version: "v1.2.3", Seen: clock.Add(-5 * time.Second)},
				{ID: "boot-b", Addr: "http://198.18.0.2:8080", Version: "v1.2.2", Seen: clock.Add(-2 * time.Minute)},
			}}
		})
}

func TestStatusInstances(t *testing.T) {
	t.Parallel()
	f := instanceFixture(t)
	rec := f.do(t, http.MethodGet, "/api/v1/status", "")
	var body statusBody
	decode(t, rec, &body)
	if rec.Code != http.StatusOK || body.Version != "v1.2.3" || len(body.Instances) != 2 {
		t.Fatalf("GET /api/v1/status = %d %+v, want 200, version v1.2.3 and 2 instances", rec.Code, body)
	}
	a, b := body.Instances[0], body.Instances[1]
	if a.ID != "boot-a" || !a.Self || a.State != boot.InstanceAlive || a.Addr != "http://198.18.0.1:8080" {
		t.Errorf("instances[0] = %+v, want boot-a, self, alive, its address", a)
	}
	if b.ID != "boot-b" || b.Self || b.State != boot.InstanceGone || b.Version != "v1.2.2" {
		t.Errorf("instances[1] = %+v, want boot-b, gone, v1.2.2", b)
	}
	if rec := f.doAuth(t, http.MethodGet, "/api/v1/status", "", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/status without a token = %d, want 401", rec.Code)
	}
}

// TestDashboardInstances: the machines page lists the instances, and a
// machine's timeline names the instance that served a boot, or gives each
// event's when several did.
func TestDashboardInstances(t *testing.T) {
	t.Parallel()
	f := instanceFixture(t)
	br := login(t, f)
	page := text(br.get(t, "/machines"))
	for _, want := range []string{"bootd instances (2)", "boot-a (this one)", "http://198.18.0.1:8080", "● alive", "boot-b", "v1.2.2", "✕ gone"} {
		if !strings.Contains(page, want) {
			t.Errorf("machines page lacks %q:\n%s", want, page)
		}
	}
	f.enroll(t, "52:54:00:12:34:56", "alpine")
	mac := mustMAC(t, "52:54:00:12:34:56")
	if _, err := f.svc.Record(t.Context(), mac, boot.Event{Stage: boot.StageDHCP}); err != nil {
		t.Fatal(err)
	}
	page = text(br.get(t, "/machines/"+mac.String()))
	if !strings.Contains(page, "served by boot-a") || strings.Contains(page, "Instance") {
		t.Errorf("machine page of a boot boot-a served alone lacks \"served by boot-a\" or has an Instance column:\n%s", page)
	}
	ev := boot.Event{Stage: boot.StageTFTP, Time: time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC), Instance: "boot-b"}
	if _, err := f.store.AppendEvent(t.Context(), mac, ev, boot.DefaultTimelinePolicy()); err != nil {
		t.Fatal(err)
	}
	page = text(br.get(t, "/machines/"+mac.String()))
	if strings.Contains(page, "served by") || !strings.Contains(page, "Instance") || !strings.Contains(page, "boot-b") {
		t.Errorf("machine page of a boot two instances served lacks the Instance column:\n%s", page)
	}
}
