package web

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// bootMetrics count boot file transfers over HTTP. Labels come from fixed
// sets: kind is a bootfs.Kind ("none" when nothing was found), outcome is
// done, aborted, not_found, refused or failed.
type bootMetrics struct {
	transfers *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	active    prometheus.Gauge
}

func newBootMetrics(reg prometheus.Registerer) (*bootMetrics, error) {
	m := &bootMetrics{
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootd_http_boot_transfers_total",
			Help: "Boot files requested over HTTP, by kind of file and outcome.",
		}, []string{"kind", "outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootd_http_boot_sent_bytes_total",
			Help: "Boot file bytes sent over HTTP, by kind of file.",
		}, []string{"kind"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bootd_http_boot_transfers_active",
			Help: "Boot file transfers under way over HTTP.",
		}),
	}
	for _, c := range []prometheus.Collector{m.transfers, m.bytes, m.active} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("web: register metrics: %w", err)
		}
	}
	return m, nil
}
