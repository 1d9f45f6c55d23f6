package web

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the caps on the boot listener's downloads: far above a rack
// booting at once (each machine fetches one file at a time), far below
// what exhausts the descriptors of a default process.
const (
	DefaultBootMaxDownloads = 512
	DefaultBootMaxPerClient = 16
)

// bootRetryAfter is the Retry-After of a refused download, in seconds.
// iPXE waits that long and asks again on a 503 (its http_retry).
const bootRetryAfter = "2"

// bootLimit caps the requests under /boot in progress, in all and per
// client address. A request beyond a cap gets 503 with Retry-After and is
// counted in bootd_http_boot_refused_total{reason}.
type bootLimit struct {
	max, perClient int
	refused        *prometheus.CounterVec

	mu       sync.Mutex
	total    int
	byClient map[netip.Addr]int
}

func newBootLimit(reg prometheus.Registerer, max, perClient int) (*bootLimit, error) {
	if max <= 0 {
		max = DefaultBootMaxDownloads
	}
	if perClient <= 0 {
		perClient = DefaultBootMaxPerClient
	}
	l := &bootLimit{max: max, perClient: perClient, byClient: map[netip.Addr]int{},
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootd_http_boot_refused_total",
			Help: "Boot file requests refused with 503, by reason (busy: the cap in all; client_busy: the cap per client).",
		}, []string{"reason"})}
	if err := reg.Register(l.refused); err != nil {
		return nil, fmt.Errorf("web: register metrics: %w", err)
	}
	return l, nil
}

// wrap is the middleware of the /boot routes.
func (l *bootLimit) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := remoteAddr(r)
		if reason, ok := l.acquire(client); !ok {
			l.refused.WithLabelValues(reason).Inc()
			h := w.Header()
			h.Set("Retry-After", bootRetryAfter)
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "busy, retry later\n")
			return
		}
		defer l.release(client)
		next.ServeHTTP(w, r)
	})
}

func (l *bootLimit) acquire(client netip.Addr) (reason string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.max:
		return "busy", false
	case l.byClient[client] >= l.perClient:
		return "client_busy", false
	}
	l.total++
	l.byClient[client]++
	return "", true
}

func (l *bootLimit) release(client netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byClient[client]--; l.byClient[client] <= 0 {
		delete(l.byClient, client)
	}
}
