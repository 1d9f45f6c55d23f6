package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Who may do what, and the record of what they did. Every route of the
// admin listener but the login page is registered through guard.act with
// the access.Action it performs: act checks the requester's role against
// that action before the handler runs, and for an action that changes
// state appends one audit record afterwards, with the outcome (ok, denied,
// error). A handler whose action depends on its body (reimage keeping the
// old volume is still a reimage, but reconcile with repair is not a plain
// reconcile, and netboot once arms) raises it with escalate before acting.
// TestEveryChangeAudited walks the routes: a route registered without act,
// or a state-changing one that writes no record, fails it.

// principal is who sent a request, and through which door.
type principal struct {
	user *access.User
	via  access.Via
}

type principalKey struct{}

func withPrincipal(r *http.Request, p principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
}

func principalOf(r *http.Request) (principal, bool) {
	p, ok := r.Context().Value(principalKey{}).(principal)
	return p, ok && p.user != nil
}

// auditState is one guarded request's audit record in the making.
type auditState struct {
	mu     sync.Mutex
	action access.Action
	mac    boot.MAC
	target string
	denied bool
	skip   bool  // nothing was done (a form sent on to its confirmation page)
	err    error // why it failed, when the handler rendered the refusal itself
}

type auditKey struct{}

func stateOf(r *http.Request) *auditState {
	st, _ := r.Context().Value(auditKey{}).(*auditState)
	return st
}

// auditMAC names the machine a request acts on when its path does not
// (enrolling names it in the body).
func auditMAC(r *http.Request, mac boot.MAC) {
	if st := stateOf(r); st != nil {
		st.mu.Lock()
		st.mac = mac
		st.mu.Unlock()
	}
}

// auditTarget names what else the request acts on: a snapshot, a user.
func auditTarget(r *http.Request, target string) {
	if st := stateOf(r); st != nil {
		st.mu.Lock()
		st.target = target
		st.mu.Unlock()
	}
}

// auditError notes why a request failed when its handler shows the
// refusal itself (a dashboard form with a message by its field).
func auditError(r *http.Request, err error) {
	if st := stateOf(r); st != nil {
		st.mu.Lock()
		st.err = err
		st.mu.Unlock()
	}
}

// auditSkip notes that a request did nothing to record: a destructive
// form without its confirmation, sent on to the confirmation page.
func auditSkip(r *http.Request) {
	if st := stateOf(r); st != nil {
		st.mu.Lock()
		st.skip = true
		st.mu.Unlock()
	}
}

// errRole is a request its user's role does not allow.
type errRole struct {
	user   string
	role   access.Role
	action access.Action
}

func (e *errRole) Error() string {
	return fmt.Sprintf("user %s (%s) is not allowed to do %q: that needs the %s role", e.user, e.role, e.action, e.action.MinRole())
}
func (e *errRole) Unwrap() error { return errForbidden }

// escalate raises the request's action to a, which its handler found it
// performs, and checks the role again. The handler returns the error.
func escalate(r *http.Request, a access.Action) error {
	st := stateOf(r)
	p, ok := principalOf(r)
	if st == nil || !ok {
		return errors.New("web: escalate outside a guarded request")
	}
	st.mu.Lock()
	st.action = a
	st.mu.Unlock()
	if !p.user.Role.Allows(a) {
		st.mu.Lock()
		st.denied = true
		st.mu.Unlock()
		return &errRole{p.user.Name, p.user.Role, a}
	}
	return nil
}

// guard checks roles and writes the audit log for one listener.
type guard struct {
	audit access.AuditLog
	log   *slog.Logger
	now   func() time.Time
	// actions records each guarded route's action, by "METHOD pattern",
	// for the test that walks the routes.
	mu      sync.Mutex
	actions map[string]access.Action
}

func newGuard(audit access.AuditLog, log *slog.Logger) *guard {
	return &guard{audit: audit, log: log, now: time.Now, actions: map[string]access.Action{}}
}

// note remembers that method pattern performs a.
func (g *guard) note(method, pattern string, a access.Action) {
	g.mu.Lock()
	g.actions[method+" "+pattern] = a
	g.mu.Unlock()
}

// action returns what the route method pattern was registered with.
func (g *guard) action(method, pattern string) (access.Action, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a, ok := g.actions[method+" "+pattern]
	return a, ok
}

// run runs fn for an authenticated request as action a: role check, then
// fn, then the audit record of a state-changing action. It returns fn's
// error (or the role's refusal) for the caller to render.
func (g *guard) run(w http.ResponseWriter, r *http.Request, a access.Action, fn func(http.ResponseWriter, *http.Request) error) error {
	p, ok := principalOf(r)
	if !ok {
		return errToken // the authentication middleware runs first; this is a wiring mistake
	}
	st := &auditState{action: a}
	if m := chi.URLParam(r, "mac"); m != "" {
		st.mac, _ = boot.ParseMAC(m)
	}
	for _, k := range []string{"name", "user", "snap"} {
		if v := chi.URLParam(r, k); v != "" && st.target == "" {
			st.target = v
		}
	}
	r = r.WithContext(context.WithValue(r.Context(), auditKey{}, st))
	ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
	var err error
	if !p.user.Role.Allows(a) {
		st.denied = true
		err = &errRole{p.user.Name, p.user.Role, a}
	} else {
		err = fn(ww, r)
	}
	st.mu.Lock()
	rec := access.Record{Time: g.now(), User: p.user.Name, Via: p.via, Action: st.action, MAC: st.mac,
		Target: st.target, Outcome: access.OutcomeOK}
	denied, skip, shown := st.denied, st.skip, st.err
	st.mu.Unlock()
	if !rec.Action.Changes() || skip {
		return err
	}
	if err == nil && shown == nil && ww.Status() >= 400 {
		// The handler answered with a refusal and said nothing of it.
		shown = fmt.Errorf("%d %s", ww.Status(), http.StatusText(ww.Status()))
	}
	if err == nil && shown != nil {
		rec.Outcome = access.OutcomeError
		if _, rec.Error = status(shown); rec.Error == internalMessage && ww.Status() < 500 {
			rec.Error = shown.Error()
		}
	}
	if a, perr := netip.ParseAddr(clientAddr(r)); perr == nil {
		rec.Remote = a.Unmap()
	}
	switch {
	case denied:
		rec.Outcome, rec.Error = access.OutcomeDenied, "not allowed"
		if e := cmp.Or(err, shown); e != nil {
			rec.Error = e.Error()
		}
	case err != nil:
		rec.Outcome = access.OutcomeError
		_, rec.Error = status(err) // the client's message: never a 500's internals
	}
	g.record(r.Context(), rec)
	return err
}

// record appends rec to the audit log and logs it. A failure to append is
// logged loudly: the action happened and cannot be undone.
func (g *guard) record(ctx context.Context, rec access.Record) {
	g.log.Info("audit", "record", rec)
	if _, err := g.audit.Append(context.WithoutCancel(ctx), rec); err != nil {
		g.log.Error("audit record not written", "action", string(rec.Action), "user", rec.User, "err", err)
	}
}

// viaOf tells the CLI from other API clients by its User-Agent.
func viaOf(r *http.Request) access.Via {
	if strings.HasPrefix(r.UserAgent(), CLIUserAgent) {
		return access.ViaCLI
	}
	return access.ViaAPI
}

// CLIUserAgent starts the User-Agent of bootd's CLI, so the audit log can
// say an action came from it.
const CLIUserAgent = "bootd-cli/"
