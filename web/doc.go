// Package web is bootd's HTTP side, as two handlers for two listeners.
// The admin handler has the JSON API under /api/v1, the health check at
// /healthz, the Prometheus metrics at /metrics and the dashboard
// (/machines, /images, /audit, /login): server-rendered pages from the
// templates package that call the same domain as the API, with live updates
// over server-sent events (dashboard*.go). Every admin route is registered
// with the access.Action it performs (guard.go): the requester's role is
// checked first, and a state-changing action is written to the audit log.
// The boot handler, when Config.Files is set, has only the boot files under
// /boot (boot.go): iPXE binaries at /boot/ipxe/<file> and each node's tree
// at /boot/<mac>/<name>, sent with http.ServeContent (iPXE scripts whole)
// and recorded in the node's timeline. NewNode builds the node listener's
// handler (node.go).
//
// New builds both; cmd/bootd puts each in its own http.Server:
//
//	users, err := access.NewDirectory(access.Config{Store: db})
//	...
//	h, err := web.New(web.Config{Nodes: svc, Enrollment: svc, Volumes: svc, Events: svc, Fetches: svc, Resolver: svc,
//		Users: users, Audit: db.AuditLog(access.Retention{}), Logger: log, Version: version, Files: files})
//	...
//	admin := &http.Server{Handler: h.Admin, TLSConfig: ...}
//	boot := &http.Server{Handler: h.Boot, ReadHeaderTimeout: 10 * time.Second}
//
// Every /api/v1 route needs the header "Authorization: Bearer <token>" of a
// user (Config.Users); the /boot routes need none (firmware cannot send one).
// Answers are JSON; a failure is {"error":"<message>"} with a 4xx or 5xx
// status, chosen for every domain error in one place (errors.go).
package web
