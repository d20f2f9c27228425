package gateway

import (
	"math/rand/v2"
	"slices"
	"time"
)

// pick chooses an endpoint of t for one try: not ejected and not tried
// already by this request, when there is such an endpoint. Round robin
// walks a shared counter; least request compares two random endpoints'
// requests in flight (power of two choices), which avoids the herd a
// global minimum causes.
func (t *track) pick(lb int, now int64, tried []*endpoint) *endpoint {
	n := len(t.eps)
	switch n {
	case 0:
		return nil
	case 1:
		return t.eps[0]
	}
	usable := func(e *endpoint) bool {
		return e.st.ejectedUntil.Load() <= now && !slices.Contains(tried, e)
	}
	var start int
	if lb == lbLeastRequest {
		i := rand.IntN(n)
		j := (i + 1 + rand.IntN(n-1)) % n
		a, b := t.eps[i], t.eps[j]
		ua, ub := usable(a), usable(b)
		switch {
		case ua && ub:
			if b.st.inflight.Load() < a.st.inflight.Load() {
				return b
			}
			return a
		case ua:
			return a
		case ub:
			return b
		}
		start = i
	} else {
		start = int(t.state.rr.Add(1) % uint64(n))
	}
	for k := range n {
		if e := t.eps[(start+k)%n]; usable(e) {
			return e
		}
	}
	// Everything is ejected or tried: an untried endpoint, even ejected,
	// beats failing the request.
	for k := range n {
		if e := t.eps[(start+k)%n]; !slices.Contains(tried, e) {
			return e
		}
	}
	return t.eps[start]
}

// observe feeds one try's outcome to passive outlier ejection: after
// ConsecutiveFailures failures in a row an endpoint is left out of
// balancing for BaseEjection × (times ejected), unless that would eject
// more than MaxEjectionPercent of the track (never all of it).
func (g *Gateway) observe(rt *route, t *track, e *endpoint, failed bool, now time.Time) {
	if !failed {
		if e.st.fails.Load() != 0 {
			e.st.fails.Store(0)
		}
		return
	}
	o := g.opts.Outlier
	if int(e.st.fails.Add(1)) < o.ConsecutiveFailures {
		return
	}
	t.state.mu.Lock()
	defer t.state.mu.Unlock()
	nowNs := now.UnixNano()
	if e.st.ejectedUntil.Load() > nowNs {
		return
	}
	ejected := 0
	for _, x := range t.eps {
		if x.st.ejectedUntil.Load() > nowNs {
			ejected++
		}
	}
	limit := len(t.eps) * o.MaxEjectionPercent / 100
	limit = min(limit, len(t.eps)-1)
	if ejected >= limit {
		return
	}
	// An endpoint that stayed healthy long after its last ejection starts
	// again from the base time.
	if e.st.lastEjected != 0 && nowNs-e.st.lastEjected > 10*int64(o.BaseEjection) {
		e.st.ejections = 0
	}
	e.st.ejections = min(e.st.ejections+1, 10)
	until := nowNs + int64(e.st.ejections)*int64(o.BaseEjection)
	e.st.ejectedUntil.Store(until)
	e.st.lastEjected = until
	e.st.fails.Store(0)
	e.m.ejections.Inc()
	g.log.Warn("gateway: instance ejected after consecutive failures",
		"route", rt.id, "track", t.name, "backend", e.addr, "instance", e.instance,
		"for", time.Duration(until-nowNs).String())
}
