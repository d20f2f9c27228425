package gateway

import (
	"errors"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the gateway's Prometheus collectors. The request path never
// looks a series up by labels: each compiled route, track and endpoint
// holds its own counters, resolved when the table is compiled.
type metrics struct {
	requests  *prometheus.CounterVec   // route, app, track, backend, code
	duration  *prometheus.HistogramVec // route, app, track, backend
	ejections *prometheus.CounterVec   // route, app, track, backend
	retries   *prometheus.CounterVec   // route, app
	exhausted *prometheus.CounterVec   // route, app
	noRoute   prometheus.Counter

	gatherer prometheus.Gatherer

	mu   sync.Mutex
	live map[[3]string]bool // route, track, backend series of the current table
}

// codeClasses index status/100; 0 holds answers the gateway could not
// classify (never used in practice, kept so indexing needs no check).
var codeClasses = [6]string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"}

type routeMetrics struct {
	retries, exhausted prometheus.Counter
}

type trackMetrics struct {
	// Requests answered by the gateway itself before an endpoint was
	// chosen (no ready instance, body too large): backend "".
	codes [6]prometheus.Counter
	dur   prometheus.Observer
}

type endpointMetrics struct {
	codes     [6]prometheus.Counter
	dur       prometheus.Observer
	ejections prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		r := prometheus.NewRegistry()
		reg = r
	}
	m := &metrics{live: map[[3]string]bool{}}
	var err error
	m.requests, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_gateway_requests_total",
		Help: "Requests answered, by route, track, backend instance and status class.",
	}, []string{"route", "app", "track", "backend", "code"}))
	if err != nil {
		return nil, err
	}
	m.duration, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "berth_gateway_request_duration_seconds",
		Help:    "Time from request to the end of the response, retries included.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route", "app", "track", "backend"}))
	if err != nil {
		return nil, err
	}
	m.ejections, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_gateway_ejections_total",
		Help: "Times an instance was ejected from balancing after consecutive failures.",
	}, []string{"route", "app", "track", "backend"}))
	if err != nil {
		return nil, err
	}
	m.retries, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_gateway_retries_total",
		Help: "Retries sent to another instance.",
	}, []string{"route", "app"}))
	if err != nil {
		return nil, err
	}
	m.exhausted, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_gateway_retry_budget_exhausted_total",
		Help: "Retries not sent because the route's retry budget was spent.",
	}, []string{"route", "app"}))
	if err != nil {
		return nil, err
	}
	noRoute, err := register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "berth_gateway_no_route_total",
		Help: "Requests that matched no route (answered 404).",
	}))
	if err != nil {
		return nil, err
	}
	m.noRoute = noRoute
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.gatherer = g
	} else {
		m.gatherer = prometheus.DefaultGatherer
	}
	return m, nil
}

// register adds c, or returns the collector already registered under the
// same description (two gateways in one process share their series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old, nil
			}
		}
		return c, err
	}
	return c, nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

func (m *metrics) forRoute(r Route) *routeMetrics {
	return &routeMetrics{
		retries:   m.retries.WithLabelValues(r.ID, r.App),
		exhausted: m.exhausted.WithLabelValues(r.ID, r.App),
	}
}

func (m *metrics) forTrack(r Route, trackName string) *trackMetrics {
	tm := &trackMetrics{dur: m.duration.WithLabelValues(r.ID, r.App, trackName, "")}
	for i, c := range codeClasses {
		tm.codes[i] = m.requests.WithLabelValues(r.ID, r.App, trackName, "", c)
	}
	m.mark(r.ID, trackName, "")
	return tm
}

func (m *metrics) forEndpoint(r Route, trackName, addr string) *endpointMetrics {
	em := &endpointMetrics{
		dur:       m.duration.WithLabelValues(r.ID, r.App, trackName, addr),
		ejections: m.ejections.WithLabelValues(r.ID, r.App, trackName, addr),
	}
	for i, c := range codeClasses {
		em.codes[i] = m.requests.WithLabelValues(r.ID, r.App, trackName, addr, c)
	}
	m.mark(r.ID, trackName, addr)
	return em
}

func (m *metrics) mark(route, trackName, addr string) {
	m.mu.Lock()
	m.live[[3]string{route, trackName, addr}] = true
	m.mu.Unlock()
}

// retire deletes the series of routes, tracks and instances the new table
// no longer has, so a long-running gateway does not export every instance
// that ever existed.
func (m *metrics) retire(routes []*route) {
	keep := map[[3]string]bool{}
	ids := map[string]bool{}
	for _, rt := range routes {
		ids[rt.id] = true
		for _, t := range rt.tracks {
			keep[[3]string{rt.id, t.name, ""}] = true
			for _, e := range t.eps {
				keep[[3]string{rt.id, t.name, e.addr}] = true
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.live {
		if keep[k] {
			continue
		}
		l := prometheus.Labels{"route": k[0], "track": k[1], "backend": k[2]}
		m.requests.DeletePartialMatch(l)
		m.duration.DeletePartialMatch(l)
		m.ejections.DeletePartialMatch(l)
		if !ids[k[0]] {
			m.retries.DeletePartialMatch(prometheus.Labels{"route": k[0]})
			m.exhausted.DeletePartialMatch(prometheus.Labels{"route": k[0]})
		}
		delete(m.live, k)
	}
}
