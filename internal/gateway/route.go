package gateway

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// route is one compiled Route. Everything in it is immutable except what
// its state pointers reach, which survives reloads.
type route struct {
	cfg       Route
	id        string
	hostKind  int
	host      string // exact host, or ".example.com" for "*.example.com"
	path      string
	exactPath bool
	methods   []string
	headers   []HeaderMatch
	conds     int

	tracks []*track
	// cycle maps each of 100 consecutive requests to a track index: a smooth
	// weighted order computed once, so a split is exact over every 100
	// requests and needs one atomic add per request.
	cycle      [100]uint8
	multiTrack bool
	fallback   *track // first track with endpoints, for tracks that have none

	lb          int
	timeout     time.Duration
	maxBody     int64
	retry       *retryConf
	sticky      bool
	showRelease bool // X-Berth-Release on responses (see docs/gateway.md)

	state   *routeState
	handler http.Handler // policy middleware around the proxy; nil: none
	m       *routeMetrics
}

const (
	lbRoundRobin = iota
	lbLeastRequest
)

// track is one compiled Track.
type track struct {
	name       string
	release    int
	weight     int
	eps        []*endpoint
	state      *trackState
	releaseHdr []string // {"<release>"}, shared by every response
	cookieHdr  []string // Set-Cookie for Sticky
	m          *trackMetrics
}

// endpoint is one compiled Endpoint.
type endpoint struct {
	addr       string
	instance   string
	release    int
	releaseHdr []string
	up         *upstream // connection pool, shared by every route using addr
	st         *endpointState
	m          *endpointMetrics
}

// routeState is what a route keeps across reloads while its ID stays.
type routeState struct {
	id     string
	cycle  atomic.Uint64 // position in route.cycle
	budget retryBudget
	tracks map[string]*trackState
	eps    map[string]*endpointState // by address
	chain  *chainState
	// The route's metric children, resolved once and kept while the route
	// keeps its app (label lookups are most of a large table's Load).
	m    *routeMetrics
	mApp string
	// owner is the App of the route in the table served (set when a
	// load commits): LoadDelta checks with it that a route ID is not
	// taken from an app the delta leaves alone.
	owner string
}

// trackState keeps a track's round-robin position and serialises
// ejection decisions (so the cap holds under concurrent failures).
type trackState struct {
	rr atomic.Uint64
	mu sync.Mutex
	// Metric children of the track and of its endpoints (by address);
	// written by Load only, under the gateway's load lock.
	m   *trackMetrics
	epM map[string]*endpointMetrics
}

// endpointState is an endpoint's load and health, kept across reloads.
type endpointState struct {
	inflight     atomic.Int64
	fails        atomic.Int32 // consecutive failures
	ejectedUntil atomic.Int64 // unix nanoseconds; 0: not ejected
	ejections    int          // how many times, for the growing ejection time; guarded by trackState.mu
	lastEjected  int64        // unix nanoseconds of the last ejection's end; guarded by trackState.mu
}

// chainState is a route's policy middleware, rebuilt only when the
// policies it was built from change.
type chainState struct {
	key     string // what it was built from
	handler http.Handler
	cancel  context.CancelFunc
}

func (s *routeState) trackState(name string) *trackState {
	ts := s.tracks[name]
	if ts == nil {
		ts = &trackState{}
		s.tracks[name] = ts
	}
	return ts
}

func (s *routeState) endpointState(addr string) *endpointState {
	es := s.eps[addr]
	if es == nil {
		es = &endpointState{}
		s.eps[addr] = es
	}
	return es
}

// smoothCycle spreads 100 requests over tracks in proportion to their
// weights, interleaved (nginx's smooth weighted round robin), so a 10 %
// canary gets every tenth request rather than ten in a row.
func smoothCycle(tracks []*track) [100]uint8 {
	var out [100]uint8
	cur := make([]int, len(tracks))
	for i := range out {
		best := -1
		for j, t := range tracks {
			cur[j] += t.weight
			if best < 0 || cur[j] > cur[best] {
				best = j
			}
		}
		cur[best] -= 100
		out[i] = uint8(best)
	}
	return out
}
