package web

import (
	"fmt"

	"github.com/bootd/bootd/boot"
	"github.com/prometheus/client_golang/prometheus"
)

// admitMetrics export the admission of booting nodes, read from the domain
// at each scrape: the boots in flight and their cap (boot/admission.go),
// and the wait-and-retry scripts served, by reason: "ceph" while the last
// probe found Ceph unable to take a boot (boot/health.go), "busy" over the
// cap. Their sum is what bootd_boot_wait_scripts_total counted before it
// had a reason.
type admitMetrics struct {
	a        Admission
	inFlight *prometheus.Desc
	max      *prometheus.Desc
	waits    *prometheus.Desc
}

func registerAdmitMetrics(reg prometheus.Registerer, a Admission) error {
	m := &admitMetrics{a: a,
		inFlight: prometheus.NewDesc("bootd_boots_in_flight",
			"Boots in flight: nodes with a volume handed their boot script whose key has not gone out, within their boot window.", nil, nil),
		max: prometheus.NewDesc("bootd_boots_in_flight_max",
			"The cap on boots in flight (max_boots_in_flight); 0 means none.", nil, nil),
		waits: prometheus.NewDesc("bootd_boot_wait_scripts_total",
			"Wait-and-retry scripts served to nodes with a volume, by reason: ceph (Ceph cannot take boots), busy (too many boots in flight).",
			[]string{"reason"}, nil),
	}
	if err := reg.Register(m); err != nil {
		return fmt.Errorf("web: register admission metrics: %w", err)
	}
	return nil
}

func (m *admitMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.inFlight
	ch <- m.max
	ch <- m.waits
}

func (m *admitMetrics) Collect(ch chan<- prometheus.Metric) {
	n, max := m.a.BootsInFlight()
	ch <- prometheus.MustNewConstMetric(m.inFlight, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(m.max, prometheus.GaugeValue, float64(max))
	for _, c := range boot.WaitCauses {
		ch <- prometheus.MustNewConstMetric(m.waits, prometheus.CounterValue, float64(m.a.WaitScripts(c)), string(c))
	}
}
