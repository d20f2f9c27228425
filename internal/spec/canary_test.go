package spec

import (
	"reflect"
	"testing"
	"time"
)

// TestParseCanaryAndRoutePolicies reads the canary strategy and every
// route field, with the defaults the policies get.
func TestParseCanaryAndRoutePolicies(t *testing.T) {
	t.Parallel()
	a, err := Parse([]byte(`name: shop
services:
  web: {command: [./web], ports: [8080]}
routes:
  - host: shop.localhost
    service: web
    path: /api
    path_type: exact
    methods: [GET, post]
    headers: {X-Beta: "1"}
    sticky: true
    timeout: 30s
    retries: {per_try_timeout: 2s, safe_methods: [POST]}
    circuit_breaker: {latency_threshold: 500ms}
    rate_limit: {rate: 2.5, key: "header:X-API-Key"}
    lb: least_request
    max_body: 1Mi
  - {host: shop.localhost, service: web, circuit_breaker: {consecutive_failures: 5}}
strategy:
  type: canary
  steps:
    - {weight: 10, pause: 5m}
    - {weight: 50, pause: 0s}
    - {weight: 90}
`))
	if err != nil {
		t.Fatal(err)
	}
	pause := func(d time.Duration) *Duration { p := Duration(d); return &p }
	wantSteps := []CanaryStep{{Weight: 10, Pause: pause(5 * time.Minute)}, {Weight: 50, Pause: pause(0)}, {Weight: 90}}
	if a.Strategy.Type != StrategyCanary || !reflect.DeepEqual(a.Strategy.Steps, wantSteps) {
		t.Errorf("strategy = %+v", a.Strategy)
	}
	r := a.Routes[0]
	want := Route{
		Host: "shop.localhost", Path: "/api", Service: "web", PathType: PathExact,
		Methods: []string{"GET", "post"}, Headers: map[string]string{"X-Beta": "1"},
		Sticky: true, Timeout: Duration(30 * time.Second),
		Retries: &Retries{Attempts: DefaultRetryAttempts, PerTryTimeout: Duration(2 * time.Second), SafeMethods: []string{"POST"}},
		CircuitBreaker: &CircuitBreaker{
			LatencyThreshold: Duration(500 * time.Millisecond), LatencyQuantile: DefaultBreakerLatencyQuantile,
			Window: DefaultBreakerWindow, MinRequests: DefaultBreakerMinRequests, OpenFor: DefaultBreakerOpenFor,
		},
		RateLimit: &RateLimit{Rate: 2.5, Burst: 3, Key: "header:X-API-Key"},
		LB:        LBLeastRequest, MaxBody: "1Mi",
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("route 0:\n got %+v\nwant %+v", r, want)
	}
	// A breaker with a trigger of its own gets no default error ratio;
	// a route without policies gets none of them.
	if cb := a.Routes[1].CircuitBreaker; cb.ErrorRatio != 0 || cb.ConsecutiveFailures != 5 || a.Routes[1].Retries != nil || a.Routes[1].PathType != "" {
		t.Errorf("route 1 = %+v, breaker %+v", a.Routes[1], cb)
	}

	// The canonical JSON reads back the same (pause 0s stays set, unset
	// pause stays unset), and defaults are idempotent.
	c1, err := a.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(c1)
	if err != nil {
		t.Fatalf("canonical does not parse: %v\n%s", err, c1)
	}
	c2, _ := b.Canonical()
	if string(c1) != string(c2) || !reflect.DeepEqual(a, b) {
		t.Errorf("canonical round trip changed the app:\n%s\n%s", c1, c2)
	}
}

// TestCanonicalUnchangedByNewRouteFields: a route that sets none of the
// new fields has the canonical JSON it had before they existed, so
// applying an old berth.yaml again is still "unchanged".
func TestCanonicalUnchangedByNewRouteFields(t *testing.T) {
	t.Parallel()
	a, err := Parse([]byte("name: shop\nservices:\n  web: {command: [./web], ports: [8080]}\nroutes:\n  - {host: shop.localhost, service: web}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"name":"shop","services":{"web":{"command":["./web"],"ports":[{"port":8080,"protocol":"http"}],"replicas":1,"resources":{},"stop_grace_period":"10s"}},"routes":[{"host":"shop.localhost","path":"/","service":"web"}],"strategy":{"type":"rolling","max_surge":1,"progress_deadline":"2m0s"}}`
	if string(c) != want {
		t.Errorf("canonical =\n%s\nwant\n%s", c, want)
	}
}
