// Package web is bootd's HTTP side: the JSON API under /api/v1, the health
// check at /healthz, the Prometheus metrics at /metrics, and the dashboard
// (/machines, /images, /login): server-rendered pages from the templates
// package that call the same boot.Service as the API, with live updates
// over server-sent events (dashboard*.go). The boot endpoints (iPXE
// scripts, kernels, initrds) join it later.
//
// New builds the handler; cmd/bootd puts it in an http.Server:
//
//	token, err := web.LoadOrCreateToken("/var/lib/bootd/api-token")
//	...
//	h, err := web.New(web.Config{Service: svc, Token: token, Logger: log, Version: version})
//	...
//	srv := &http.Server{Addr: ":8080", Handler: h, ReadHeaderTimeout: 10 * time.Second}
//
// Every /api/v1 route needs the header "Authorization: Bearer <token>".
// Answers are JSON; a failure is {"error":"<message>"} with a 4xx or 5xx
// status, chosen for every domain error in one place (errors.go).
package web
