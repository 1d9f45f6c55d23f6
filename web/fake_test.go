package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/access/accesstest"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/boottest"
	"github.com/prometheus/client_golang/prometheus"
)

// memStore is an in-memory boot.Store. When err is set every method fails with it.
type memStore struct {
	mu      sync.Mutex
	nodes   map[string]*boot.Node
	boots   map[string][]boot.Boot
	intents map[string]boot.Intent
	err     error
}

func newMemStore() *memStore {
	return &memStore{nodes: map[string]*boot.Node{}, boots: map[string][]boot.Boot{}}
}

func (s *memStore) Node(_ context.Context, mac boot.MAC) (*boot.Node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	n, ok := s.nodes[mac.String()]
	if !ok {
		return nil, fmt.Errorf("%w: %s", boot.ErrUnknown, mac)
	}
	return n.Clone(), nil
}

func (s *memStore) Nodes(context.Context) ([]*boot.Node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	var out []*boot.Node
	for _, n := range s.nodes {
		out = append(out, n.Clone())
	}
	slices.SortFunc(out, func(a, b *boot.Node) int { return strings.Compare(a.MAC.String(), b.MAC.String()) })
	return out, nil
}

func (s *memStore) Update(_ context.Context, mac boot.MAC, fn func(*boot.Node) (*boot.Node, error)) (*boot.Node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	var cur *boot.Node
	if n, ok := s.nodes[mac.String()]; ok {
		cur = n.Clone()
	}
	n, err := fn(cur)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, fmt.Errorf("update %s: no node to store", mac)
	}
	s.nodes[mac.String()] = n.Clone()
	return n, nil
}

func (s *memStore) Delete(_ context.Context, mac boot.MAC, check func(*boot.Node) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if check != nil {
		var cur *boot.Node
		if n, ok := s.nodes[mac.String()]; ok {
			cur = n.Clone()
		}
		if err := check(cur); err != nil {
			return err
		}
	}
	delete(s.nodes, mac.String())
	delete(s.boots, mac.String())
	return nil
}

func (s *memStore) AppendEvent(_ context.Context, mac boot.MAC, ev boot.Event, p boot.TimelinePolicy) (boot.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return boot.Event{}, s.err
	}
	boots := s.boots[mac.String()]
	var last *boot.Event
	if len(boots) > 0 {
		evs := boots[len(boots)-1].Events
		last = &evs[len(evs)-1]
	}
	if p.NewBoot(last, ev) {
		boots = append(boots, boot.Boot{Seq: len(boots) + 1})
	}
	b := &boots[len(boots)-1]
	ev.Boot = b.Seq
	b.Events = append(b.Events, ev)
	s.boots[mac.String()] = boots
	if n, ok := s.nodes[mac.String()]; ok {
		p.Apply(n, ev)
	}
	return ev, nil
}

func (s *memStore) Timeline(_ context.Context, mac boot.MAC) ([]boot.Boot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return slices.Clone(s.boots[mac.String()]), nil
}

// The intents of the in-memory store.

func (s *memStore) PutIntent(_ context.Context, in boot.Intent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.intents == nil {
		s.intents = map[string]boot.Intent{}
	}
	if _, ok := s.intents[in.MAC.String()]; ok {
		return fmt.Errorf("%w: %s", boot.ErrBusy, in.MAC)
	}
	s.intents[in.MAC.String()] = in
	return nil
}

func (s *memStore) DeleteIntent(_ context.Context, mac boot.MAC) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.intents, mac.String())
	return s.err
}

func (s *memStore) Intents(context.Context) ([]boot.Intent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []boot.Intent
	for _, in := range s.intents {
		out = append(out, in)
	}
	return out, s.err
}

// catalog is a fixed boot.Catalog. When panics is set, Images panics.
type catalog struct {
	images map[string]*boot.Image
	panics bool
}

func newCatalog() *catalog {
	return &catalog{images: map[string]*boot.Image{
		"alpine": {Name: "alpine", Flavour: boot.FlavourAlpine, Arch: "amd64", Kernel: "/srv/images/alpine/vmlinuz",
			Golden: boot.GoldenRef{Pool: "rbd", Image: "alpine", Snapshot: "golden"}, SizeBytes: 8 << 30},
		"debian": {Name: "debian", Flavour: boot.FlavourInitramfsTools, Arch: "amd64", Kernel: "/srv/images/debian/vmlinuz",
			Golden: boot.GoldenRef{Pool: "rbd", Image: "debian", Snapshot: "golden"}, SizeBytes: 20 << 30},
	}}
}

func (c *catalog) Image(_ context.Context, name string) (*boot.Image, error) {
	img, ok := c.images[name]
	if !ok {
		// The bare sentinel: the web layer must add the name itself.
		return nil, boot.ErrUnknownImage
	}
	cp := *img
	return &cp, nil
}

func (c *catalog) Images(context.Context) ([]*boot.Image, error) {
	if c.panics {
		panic("catalog on fire")
	}
	var out []*boot.Image
	for _, img := range c.images {
		cp := *img
		out = append(out, &cp)
	}
	slices.SortFunc(out, func(a, b *boot.Image) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fixture is a handler over fakes, with its log captured.
type fixture struct {
	h       http.Handler
	guard   *guard
	svc     *boot.Service
	store   *memStore
	catalog *catalog
	vols    *boottest.Volumes // the in-memory backend, when the fixture has one
	log     *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newFixture is the API's fixture: a clock stopped at 2025-01-02 03:04:05
// UTC and, with volumes, boottest's in-memory backend in f.vols.
func newFixture(t *testing.T, withVolumes bool) *fixture {
	t.Helper()
	return buildFixture(t, withVolumes, func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) },
		Config{Version: "v1.2.3"})
}

// buildFixture makes a fixture whose service reads the clock now (nil for
// the real one), with its boot.Config changed by each of opts, and whose
// handler is built from cfg with the fixture's service, the test token, a
// fresh registry and the captured log.
func buildFixture(t *testing.T, withVolumes bool, now func() time.Time, cfg Config, opts ...func(*boot.Config)) *fixture {
	t.Helper()
	f := &fixture{store: newMemStore(), catalog: newCatalog(), log: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bc := boot.Config{Store: f.store, Catalog: f.catalog, Logger: logger, Now: now}
	for _, o := range opts {
		o(&bc)
	}
	if withVolumes {
		f.vols = boottest.NewVolumes()
		bc.Volumes = f.vols
	}
	svc, err := boot.NewService(bc)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	cfg = withDomain(cfg, svc)
	cfg.Registry, cfg.Logger = prometheus.NewRegistry(), logger
	hs, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.h, f.guard = hs.Admin, hs.guard
	return f
}

// withDomain returns cfg with svc as every part of the domain, as cmd/bootd
// passes it, and, unless cfg has them, users (testUsers) and an audit log.
func withDomain(cfg Config, svc *boot.Service) Config {
	cfg.Nodes, cfg.Enrollment, cfg.Volumes, cfg.Events, cfg.Fetches, cfg.Resolver = svc, svc, svc, svc, svc, svc
	if cfg.Power == nil {
		cfg.Power = svc
	}
	cfg.Admission = svc
	if cfg.Users == nil {
		cfg.Users = testUsers()
	}
	if cfg.Audit == nil {
		cfg.Audit = accesstest.NewAuditLog(access.Retention{})
	}
	return cfg
}

// testUsers returns a directory in memory whose admin "admin" holds
// testToken (as the api-token file's legacy token) and testPassword.
func testUsers() *access.Directory {
	dir, err := access.NewDirectory(access.Config{Store: accesstest.NewUsers(), Hash: accesstest.FastHash})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if _, err := dir.Bootstrap(ctx, sha256.Sum256([]byte(testToken))); err != nil {
		panic(err)
	}
	if err := dir.SetPassword(ctx, access.BootstrapAdmin, testPassword); err != nil {
		panic(err)
	}
	return dir
}

// do serves one request with the test token.
func (f *fixture) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	return f.doAuth(t, method, path, body, "Bearer "+testToken)
}

// doAuth serves one request with the given Authorization header ("" for none).
func (f *fixture) doAuth(t *testing.T, method, path, body, auth string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// enroll enrolls mac with image through the API and fails the test if it cannot.
func (f *fixture) enroll(t *testing.T, mac, image string) {
	t.Helper()
	rec := f.do(t, http.MethodPost, "/api/v1/nodes", fmt.Sprintf(`{"mac":%q,"image":%q}`, mac, image))
	if rec.Code != http.StatusCreated {
		t.Fatalf("enroll %s = %d %s, want %d", mac, rec.Code, rec.Body, http.StatusCreated)
	}
}

// decode decodes a JSON answer into v, checking its content type.
func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode answer: %v", err)
	}
}

// errorOf returns the "error" of a JSON error answer.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	decode(t, rec, &body)
	if body.Error == "" {
		t.Errorf("error answer has no message")
	}
	return body.Error
}
