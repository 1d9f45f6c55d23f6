package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"time"

	"github.com/bootd/bootd/boot/access"

	"github.com/bootd/bootd/templates"
	"github.com/go-chi/chi/v5"
)

// The dashboard: server-rendered pages for operators, on the same
// boot.Service as the JSON API. Every action is a plain HTML form (POST,
// CSRF token, redirect after success), so the pages work without
// JavaScript; dashboard.js adds live updates over server-sent events.

// pageNames are the page templates in templates/html; each defines "content"
// (and may define "title"), rendered inside layout.html.
var pageNames = []string{"login", "machines", "machine", "confirm", "images", "audit", "error"}

// dashboard serves the pages. Its only mutable state is the node index, a
// cache of the node list kept fresh through the Service's change log.
type dashboard struct {
	nodes      NodeReader
	enrollment Enrollment
	volumes    VolumeOps
	events     Events
	log        *slog.Logger
	pages      map[string]*template.Template
	frags      *template.Template // the fragments live updates send
	static     fs.FS
	assets     map[string]string // static file name -> URL with a content version
	sess       sessions
	users      Identities
	audit      access.AuditLog
	guard      *guard
	throttle   *throttle
	index      *nodeIndex
	window     DiscoverWindow // nil: no discover window to show
	power      PowerOps       // nil: no power control
	closing    <-chan struct{}
	heartbeat  time.Duration
	now        func() time.Time
}

func newDashboard(cfg Config, s *server) (*dashboard, error) {
	log := s.log
	static, err := fs.Sub(templates.HTML, "static")
	if err != nil {
		return nil, err
	}
	d := &dashboard{nodes: cfg.Nodes, enrollment: cfg.Enrollment, volumes: cfg.Volumes, events: cfg.Events,
		log: log, static: static, assets: map[string]string{}, sess: newSessions(cfg.SessionKey, cfg.SessionTTL),
		users: cfg.Users, audit: cfg.Audit, guard: s.guard, throttle: s.throttle,
		index: &nodeIndex{nodes: cfg.Nodes, changes: cfg.Events}, window: cfg.Discover, power: cfg.Power,
		closing: cfg.Closing, heartbeat: 20 * time.Second, now: time.Now}
	err = fs.WalkDir(static, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		sum := sha256.Sum256(b)
		d.assets[p] = "/static/" + p + "?v=" + hex.EncodeToString(sum[:6])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("web: dashboard assets: %w", err)
	}
	base, err := template.New("layout.html").Funcs(d.funcs()).ParseFS(templates.HTML, "html/layout.html", "html/parts.html")
	if err != nil {
		return nil, fmt.Errorf("web: dashboard templates: %w", err)
	}
	d.frags = base
	d.pages = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templates.HTML, "html/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: dashboard template %s: %w", name, err)
		}
		d.pages[name] = t
	}
	return d, nil
}

// act registers a dashboard route performing action a (guard.go).
func (d *dashboard) act(r chi.Router, method, pattern string, a access.Action, fn pageFunc) {
	d.guard.note(method, pattern, a)
	r.Method(method, pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := d.guard.run(w, r, a, fn); err != nil {
			d.fail(w, r, err)
		}
	}))
}

// live adapts a live-update handler, which writes its own answers, to a
// pageFunc.
func (d *dashboard) live(h http.HandlerFunc) pageFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		h(w, r)
		return nil
	}
}

// routes adds the dashboard's routes to r (the root router).
func (d *dashboard) routes(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(pageHeaders, http.NewCrossOriginProtection().Handler)
		r.Get("/static/{file}", d.serveStatic)
		r.Get("/login", d.page(d.loginPage))
		r.Post("/login", d.page(d.login))
		r.Group(func(r chi.Router) {
			r.Use(d.requireSession)
			get, post, view := http.MethodGet, http.MethodPost, access.ActionView
			r.Get("/", http.RedirectHandler("/machines", http.StatusSeeOther).ServeHTTP)
			r.Post("/logout", d.page(d.logout)) // ends the session only: not an action on bootd
			d.act(r, get, "/machines", view, d.machines)
			d.act(r, post, "/machines", access.ActionEnroll, d.enroll)
			if d.window != nil {
				d.act(r, post, "/discover", access.ActionDiscover, d.discoverOpen)
				d.act(r, post, "/discover/close", access.ActionDiscover, d.discoverClose)
			}
			d.act(r, get, "/machines/{mac}", view, d.machine)
			d.act(r, post, "/machines/{mac}/assign", access.ActionAssign, d.assign)
			d.act(r, post, "/machines/{mac}/netboot", access.ActionNetboot, d.netboot) // escalates to arm
			d.act(r, post, "/machines/{mac}/snapshots", access.ActionSnapshot, d.snapshot)
			for _, c := range []struct {
				name   string
				action access.Action
				post   pageFunc
			}{
				{"reimage", access.ActionReimage, d.reimage}, {"rollback", access.ActionRollback, d.rollback},
				{"retire", access.ActionRetire, d.retire}, {"unfence", access.ActionUnfence, d.unfence},
				{"forget", access.ActionForget, d.forget}, {"replace", access.ActionReplace, d.replace},
				{"power", access.ActionPower, d.powerPost},
			} {
				d.act(r, get, "/machines/{mac}/"+c.name, view, d.confirm(c.name))
				d.act(r, post, "/machines/{mac}/"+c.name, c.action, c.post)
			}
			d.act(r, get, "/replace", view, d.replaceChoose)
			d.act(r, get, "/machines/{mac}/events", view, d.live(d.machineEvents))
			d.act(r, get, "/events", view, d.live(d.allEvents))
			d.act(r, get, "/images", view, d.images)
			d.act(r, post, "/images/{name}/protect", access.ActionProtect, d.protect)
			d.act(r, get, "/audit", access.ActionAudit, d.auditPage)
		})
	})
}

// pageHeaders keeps pages out of caches and frames, and allows only the
// dashboard's own scripts, styles and connections (no inline script, no CDN).
func pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
			"img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// serveStatic answers GET /static/{file} from the embedded assets. URLs
// carry a content version, so browsers may keep them a long time.
func (d *dashboard) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := path.Clean(chi.URLParam(r, "file"))
	if _, ok := d.assets[name]; !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeFileFS(w, r, d.static, name)
}

// A page is the data every page template gets.
type page struct {
	Title   string
	Nav     string // the menu entry to mark: machines or images
	CSRF    string // the token every form carries
	Session bool   // the operator is logged in
	Done    string // what the last action did
	Error   string // why the last action failed, when no field says it
	Live    string // the server-sent events URL for live updates; "" for none
	Data    any    // the page's own data
}

// pageFunc is a page handler. It renders its answer, or returns an error
// for page() to show on an error page.
type pageFunc func(w http.ResponseWriter, r *http.Request) error

// page adapts a pageFunc, rendering its error with the status the API gives it.
func (d *dashboard) page(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			d.fail(w, r, err)
		}
	}
}

// fail renders err on the error page, with the status and message status()
// maps it to; the causes of 500s go to the log.
func (d *dashboard) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := status(err)
	if code == http.StatusInternalServerError {
		d.log.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	d.render(w, r, code, "error", page{Title: http.StatusText(code), Data: errorData{code, msg}})
}

// errorData is the error page's data.
type errorData struct {
	Code    int
	Message string
}

// render executes a page into a buffer, then sends it with code.
func (d *dashboard) render(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	a := authOf(r)
	p.CSRF, p.Session = a.csrf, a.session
	var buf bytes.Buffer
	if err := d.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		d.log.Error("dashboard template failed", "page", name, "err", err)
		http.Error(w, internalMessage, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if _, err := buf.WriteTo(w); err != nil {
		d.log.Debug("writing page failed", "path", r.URL.Path, "err", err)
	}
}

// fragment renders one of the fragments live updates send.
func (d *dashboard) fragment(name string, data any) (string, error) {
	var buf bytes.Buffer
	err := d.frags.ExecuteTemplate(&buf, name, data)
	return buf.String(), err
}

// seeOther redirects after a successful form (POST/redirect/GET).
func seeOther(w http.ResponseWriter, r *http.Request, url string) error {
	http.Redirect(w, r, url, http.StatusSeeOther)
	return nil
}
