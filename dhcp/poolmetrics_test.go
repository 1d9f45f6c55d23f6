package dhcp

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestPoolGauges: the pool's counts reach /metrics as gauges that follow
// the pool: a lease takes an address out of "free", and the gauges read
// what Stats says.
func TestPoolGauges(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	rs := newRelayServer(t, func(c *Config) { c.Registerer = reg })
	size := floodPool.size()
	gauge := func(name, label, value string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == label && lp.GetValue() == value {
						return m.GetGauge().GetValue()
					}
				}
			}
		}
		t.Fatalf("no %s{%s=%q} on the registry", name, label, value)
		return 0
	}
	if got := gauge("bootd_dhcp_pool_addresses", "state", "free"); got != float64(size) {
		t.Errorf("free before any lease = %v, want %d", got, size)
	}
	if r := rs.lease(t, enrolled); r.Err != nil {
		t.Fatal(r.Err)
	}
	st := rs.srv.Stats()
	if got := gauge("bootd_dhcp_pool_addresses", "state", "free"); got != float64(size-1) || got != float64(st.Free) {
		t.Errorf("free after a lease = %v, want %d (Stats says %d)", got, size-1, st.Free)
	}
	if got := gauge("bootd_dhcp_pool_state", "kind", "clients"); got != float64(st.Clients) || got < 1 {
		t.Errorf("clients = %v, want %d (at least 1)", got, st.Clients)
	}
}
