package dhcp

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics. Label values come from fixed
// sets (message types, firmware classes, drop reasons), so no client can
// grow the number of series.
type metrics struct {
	received *prometheus.CounterVec
	sent     *prometheus.CounterVec
	dropped  *prometheus.CounterVec
	latency  prometheus.Histogram
	refused  prometheus.Counter
}

// The reasons a packet is dropped.
const (
	dropMalformed = "malformed"      // not a DHCP request we can parse
	dropOverload  = "overload"       // too many packets in flight
	dropDecider   = "decider"        // the Decider failed
	dropStore     = "store"          // the lease could not be stored
	dropExhausted = "exhausted"      // no address left in the pool
	dropSubnet    = "wrong_subnet"   // relayed from a network the pool is not in
	dropUnknown   = "not_admitted"   // known mode: a MAC not enrolled nor allowed
	dropOffers    = "limit_offers"   // unknown clients hold Pool.MaxOffers offers
	dropLeases    = "limit_leases"   // unknown clients hold Pool.MaxUnknownLeases leases
	dropDeclines  = "limit_declines" // a DECLINE past the quarantine's limits: not quarantined
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootd_dhcp_packets_received_total",
			Help: "DHCP requests received, by message type and firmware class.",
		}, []string{"type", "class"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootd_dhcp_packets_sent_total",
			Help: "DHCP replies sent, by message type and firmware class.",
		}, []string{"type", "class"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootd_dhcp_packets_dropped_total",
			Help: "DHCP packets dropped without a reply because of a fault, by reason.",
		}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bootd_dhcp_reply_seconds",
			Help:    "Time from receiving a DHCP request to sending its reply (leases stored included).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bootd_dhcp_claims_refused_total",
			Help: "Leases the store refused because a client of another bootd instance holds the address (a NAK was sent instead of the ACK).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.received, m.sent, m.dropped, m.latency, m.refused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("dhcp: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) drop(reason string) { m.dropped.WithLabelValues(reason).Inc() }
