package tftp

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a Server's counters, registered on its registry if it has one.
type metrics struct {
	transfers *prometheus.CounterVec
	bytes     prometheus.Counter
	active    prometheus.Gauge
	refused   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, l *limiter) (*metrics, error) {
	m := &metrics{
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootd_tftp_transfers_total",
			Help: "TFTP read requests answered, by outcome (done, not_found, aborted, failed).",
		}, []string{"outcome"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bootd_tftp_sent_bytes_total",
			Help: "File bytes sent over TFTP.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bootd_tftp_transfers_active",
			Help: "TFTP transfers under way.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootd_tftp_refused_total",
			Help: "TFTP read requests refused, by reason (busy, client_busy, duplicate, unknown, no_options).",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	waiting := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bootd_tftp_requests_waiting",
		Help: "TFTP read requests waiting for a place beyond tftp_max_transfers (the queue).",
	}, func() float64 { q, _ := l.waiting(); return float64(q) })
	held := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bootd_tftp_requests_held",
		Help: "Resent TFTP read requests held until the first of each ends.",
	}, func() float64 { _, h := l.waiting(); return float64(h) })
	for _, c := range []prometheus.Collector{m.transfers, m.bytes, m.active, m.refused, waiting, held} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("tftp: register metrics: %w", err)
		}
	}
	return m, nil
}
