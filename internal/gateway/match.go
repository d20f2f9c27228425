package gateway

import (
	"cmp"
	"net/http"
	"path"
	"slices"
	"strings"
)

// table is one compiled snapshot: immutable once stored, so requests read
// it without a lock.
type table struct {
	revision int64
	exact    map[string][]*route // lower-case host -> routes, by precedence
	wildcard map[string][]*route // ".example.com" for "*.example.com"
	// wildLens are the distinct wildcard suffix lengths, longest first, so
	// lookup tries the most specific suffix first without scanning labels
	// that no route uses.
	wildLens []int
	anyHost  []*route // host "" or "*"
	routes   []*route
}

// Host kinds, in precedence order.
const (
	hostExact = iota
	hostWildcard
	hostAny
)

// precedence orders the routes of one host group: exact path before
// prefix, longer prefix first, more method/header conditions first, then
// route ID so the order never depends on the snapshot's order.
func precedence(a, b *route) int {
	if a.exactPath != b.exactPath {
		if a.exactPath {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(len(b.path), len(a.path)); c != 0 {
		return c
	}
	if c := cmp.Compare(b.conds, a.conds); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

func newTable(rev int64, routes []*route) *table {
	t := &table{revision: rev, exact: map[string][]*route{}, wildcard: map[string][]*route{}, routes: routes}
	for _, r := range routes {
		switch r.hostKind {
		case hostExact:
			t.exact[r.host] = append(t.exact[r.host], r)
		case hostWildcard:
			t.wildcard[r.host] = append(t.wildcard[r.host], r)
		default:
			t.anyHost = append(t.anyHost, r)
		}
	}
	for _, rs := range t.exact {
		slices.SortFunc(rs, precedence)
	}
	for _, rs := range t.wildcard {
		slices.SortFunc(rs, precedence)
	}
	slices.SortFunc(t.anyHost, precedence)
	t.wildLens = wildLens(t.wildcard)
	return t
}

// wildLens lists the distinct lengths of the wildcard suffixes, longest
// first.
func wildLens(wildcard map[string][]*route) []int {
	var lens []int
	for suffix := range wildcard {
		if !slices.Contains(lens, len(suffix)) {
			lens = append(lens, len(suffix))
		}
	}
	slices.Sort(lens)
	slices.Reverse(lens)
	return lens
}

// match finds the route for r: exact host, then wildcard hosts longest
// suffix first, then catch-all routes; within each, the first route (by
// precedence) whose path, methods and headers match.
func (t *table) match(r *http.Request) *route {
	host := normHost(r.Host)
	p := matchPath(r.URL.Path)
	if rs, ok := t.exact[host]; ok {
		if rt := firstMatch(rs, p, r); rt != nil {
			return rt
		}
	}
	for _, n := range t.wildLens {
		// The wildcard needs at least one label before the suffix:
		// "*.example.com" does not match "example.com".
		if len(host) <= n {
			continue
		}
		suffix := host[len(host)-n:]
		if suffix[0] != '.' {
			continue
		}
		if rt := firstMatch(t.wildcard[suffix], p, r); rt != nil {
			return rt
		}
	}
	return firstMatch(t.anyHost, p, r)
}

func firstMatch(rs []*route, p string, r *http.Request) *route {
	for _, rt := range rs {
		if rt.matches(p, r) {
			return rt
		}
	}
	return nil
}

func (rt *route) matches(p string, r *http.Request) bool {
	if rt.exactPath {
		if p != rt.path {
			return false
		}
	} else if rt.path != "/" && p != rt.path &&
		(len(p) <= len(rt.path) || p[len(rt.path)] != '/' || p[:len(rt.path)] != rt.path) {
		// A prefix matches whole segments: "/api" matches /api and
		// /api/x, not /apix.
		return false
	}
	if rt.methods != nil && !slices.Contains(rt.methods, r.Method) {
		return false
	}
	for _, h := range rt.headers {
		if !slices.Contains(r.Header[h.Name], h.Value) {
			return false
		}
	}
	return true
}

// normHost lower-cases a Host header and drops its port and a trailing
// dot, allocating only when it must change case.
func normHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// matchPath is the path routes are matched against: the request path with
// "." and ".." segments resolved and duplicate slashes removed, so
// "/public/../admin" is routed as /admin (the way the service will read
// it). The request is forwarded with its path unchanged.
func matchPath(p string) string {
	if p == "" {
		return "/"
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// routePath normalises a route's path: "" is "/", and a prefix loses its
// trailing slash ("/api/" matches like "/api").
func routePath(p string, exact bool) string {
	if p == "" {
		return "/"
	}
	if !exact && len(p) > 1 {
		p = strings.TrimRight(p, "/")
		if p == "" {
			p = "/"
		}
	}
	return p
}
