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

	mu sync.Mutex
	// live holds the track and backend series of each route of the
	// current table, by route ID, so a change retires series route by
	// route.
	live map[string]map[[2]string]bool
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
	m := &metrics{live: map[string]map[[2]string]bool{}}
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
	series := m.live[route]
	if series == nil {
		series = map[[2]string]bool{}
		m.live[route] = series
	}
	series[[2]string{trackName, addr}] = true
	m.mu.Unlock()
}

// retire deletes the series of routes, tracks and instances the new table
// no longer has, so a long-running gateway does not export every instance
// that ever existed.
func (m *metrics) retire(routes []*route) {
	byID := make(map[string]*route, len(routes))
	for _, rt := range routes {
		byID[rt.id] = rt
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.live {
		m.retireRoute(id, byID[id])
	}
}

// retireChanged is retire for a delta: only the series of the routes it
// removed and added are looked at.
func (m *metrics) retireChanged(removed, added []*route) {
	byID := make(map[string]*route, len(added))
	for _, rt := range added {
		byID[rt.id] = rt
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rt := range removed {
		if byID[rt.id] == nil { // else retired below, as added
			m.retireRoute(rt.id, nil)
		}
	}
	for _, rt := range added {
		m.retireRoute(rt.id, rt)
	}
}

// retireRoute deletes the series of route id that rt (its compiled form
// in the new table; nil: it is gone) does not use. Callers hold m.mu.
func (m *metrics) retireRoute(id string, rt *route) {
	series := m.live[id]
	var keep map[[2]string]bool
	if rt != nil && len(series) > 8 {
		// Many instances: a set, rather than a scan per series.
		keep = map[[2]string]bool{}
		for _, t := range rt.tracks {
			keep[[2]string{t.name, ""}] = true
			for _, e := range t.eps {
				keep[[2]string{t.name, e.addr}] = true
			}
		}
	}
	for k := range series {
		if keep != nil && keep[k] || keep == nil && rt != nil && rt.uses(k[0], k[1]) {
			continue
		}
		l := prometheus.Labels{"route": id, "track": k[0], "backend": k[1]}
		m.requests.DeletePartialMatch(l)
		m.duration.DeletePartialMatch(l)
		m.ejections.DeletePartialMatch(l)
		delete(series, k)
	}
	if rt == nil {
		m.retries.DeletePartialMatch(prometheus.Labels{"route": id})
		m.exhausted.DeletePartialMatch(prometheus.Labels{"route": id})
		delete(m.live, id)
	}
}

// uses reports whether the route has the track, and the endpoint addr in
// it ("" : the track's own series).
func (rt *route) uses(trackName, addr string) bool {
	for _, t := range rt.tracks {
		if t.name != trackName {
			continue
		}
		if addr == "" {
			return true
		}
		for _, e := range t.eps {
			if e.addr == addr {
				return true
			}
		}
	}
	return false
}
