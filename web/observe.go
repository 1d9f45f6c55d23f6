package web

import (
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// observe records every request in the metrics and logs it at Debug. The
// log names the method, path, route pattern, status, size and duration;
// never a header, so never the API token.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		took := time.Since(start)
		code := ww.Status()
		if code == 0 {
			code = http.StatusOK // the handler wrote nothing: net/http sends 200
		}
		route := chi.RouteContext(r.Context()).RoutePattern()
		s.metrics.observe(route, r.Method, code, took)
		s.log.Debug("http request", "method", r.Method, "path", r.URL.Path, "route", route,
			"status", code, "bytes", ww.BytesWritten(), "duration", took, "remote", r.RemoteAddr)
	})
}

// recoverer turns a panic in a handler into a logged 500, so that one bad
// request cannot take the server down or go unnoticed.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way to abort a response; it logs nothing
			}
			s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path,
				"panic", v, "stack", string(debug.Stack()))
			if ww, ok := w.(middleware.WrapResponseWriter); ok && ww.Status() != 0 {
				return // the status is sent; the client sees a short body
			}
			s.writeJSON(w, r, http.StatusInternalServerError, errorBody{Error: internalMessage})
		}()
		next.ServeHTTP(w, r)
	})
}
