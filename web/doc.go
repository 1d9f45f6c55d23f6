// Package web is bootd's HTTP side: the JSON API under /api/v1, the health
// check at /healthz, the Prometheus metrics at /metrics, the dashboard
// (/machines, /images, /login): server-rendered pages from the templates
// package that call the same boot.Service as the API, with live updates
// over server-sent events (dashboard*.go), and, when Config.Files is set,
// the boot files under /boot (boot.go): iPXE binaries at /boot/ipxe/<file>
// and each node's tree at /boot/<mac>/<name> (its iPXE script, kernel,
// initrds, generated files), sent with http.ServeContent (iPXE scripts
// whole) and recorded in the node's timeline.
//
// New builds the handler; cmd/bootd puts it in an http.Server:
//
//	token, err := web.LoadOrCreateToken("/var/lib/bootd/api-token")
//	...
//	files, err := bootfs.New(bootfs.Config{Nodes: svc, IPXEDir: "/usr/lib/ipxe"})
//	...
//	h, err := web.New(web.Config{Nodes: svc, Enrollment: svc, Volumes: svc, Events: svc, Fetches: svc, Resolver: svc,
//		Token: token, Logger: log, Version: version, Files: files})
//	...
//	srv := &http.Server{Addr: ":8080", Handler: h, ReadHeaderTimeout: 10 * time.Second}
//
// Every /api/v1 route needs the header "Authorization: Bearer <token>"; the
// /boot routes need none (firmware cannot send one).
// Answers are JSON; a failure is {"error":"<message>"} with a 4xx or 5xx
// status, chosen for every domain error in one place (errors.go).
package web
