package gatewayd

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Load results (the result label of berth_gateway_snapshot_loads_total).
const (
	resultOK       = "ok"       // fetched and loaded
	resultRejected = "rejected" // fetched, refused by the gateway
	resultError    = "error"    // not fetched: the control plane did not answer
)

// followerMetrics tell an operator whether a standalone gateway is in
// step with the control plane.
type followerMetrics struct {
	revision  prometheus.Gauge
	routes    prometheus.Gauge
	lastLoad  prometheus.Gauge
	connected prometheus.Gauge
	loads     *prometheus.CounterVec
}

func newFollowerMetrics(reg prometheus.Registerer) (*followerMetrics, error) {
	m := &followerMetrics{
		revision: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_gateway_snapshot_revision",
			Help: "Change-log revision of the routing table being served.",
		}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_gateway_snapshot_routes",
			Help: "Routes in the table being served.",
		}),
		lastLoad: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_gateway_snapshot_last_load_timestamp_seconds",
			Help: "When a table from the control plane was last loaded (Unix time).",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_gateway_control_plane_connected",
			Help: "1 while the watch stream to the control plane is open.",
		}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_gateway_snapshot_loads_total",
			Help: "Snapshot fetches, by result: ok, rejected (the gateway refused the table) or error (no answer).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.revision, m.routes, m.lastLoad, m.connected, m.loads} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{resultOK, resultRejected, resultError} {
		m.loads.WithLabelValues(r)
	}
	return m, nil
}
