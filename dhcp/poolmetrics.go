package dhcp

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports full mode's pool counts (PoolStats) as gauges,
// read from the pool when scraped: one lock per scrape, nothing on the
// packet path.
type poolCollector struct {
	stats func() PoolStats
	addrs *prometheus.Desc
	state *prometheus.Desc
}

func newPoolCollector(stats func() PoolStats) *poolCollector {
	return &poolCollector{
		stats: stats,
		addrs: prometheus.NewDesc("bootd_dhcp_pool_addresses",
			"Addresses of full mode's pool by state: free (dynamic range, usable now), offered, "+
				"offered_unknown and leased_unknown (to MACs not enrolled), quarantined (declined).",
			[]string{"state"}, nil),
		state: prometheus.NewDesc("bootd_dhcp_pool_state",
			"Records full mode's pool keeps: clients (MACs with an address), decliners, "+
				"addresses (with a record), wakeups (scheduled expiries).",
			[]string{"kind"}, nil),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.addrs
	ch <- c.state
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, v := range []struct {
		label string
		n     int
	}{{"free", st.Free}, {"offered", st.Offers}, {"offered_unknown", st.UnknownOffers},
		{"leased_unknown", st.UnknownLeases}, {"quarantined", st.Quarantined}} {
		ch <- prometheus.MustNewConstMetric(c.addrs, prometheus.GaugeValue, float64(v.n), v.label)
	}
	for _, v := range []struct {
		label string
		n     int
	}{{"clients", st.Clients}, {"decliners", st.Decliners}, {"addresses", st.Addresses}, {"wakeups", st.Wakeups}} {
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, float64(v.n), v.label)
	}
}

// registerPool registers s's pool gauges with reg (full mode only).
func (s *Server) registerPool(reg prometheus.Registerer) error {
	if reg == nil || s.pool == nil {
		return nil
	}
	if err := reg.Register(newPoolCollector(s.Stats)); err != nil {
		return fmt.Errorf("dhcp: register pool metrics: %w", err)
	}
	return nil
}
