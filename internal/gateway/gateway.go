// Package gateway is Berth's HTTP entry point for every app: one address for
// all of them (public IPs are scarce), routing by host and path prefix to a
// service. The routing table is compiled from a snapshot and swapped
// atomically, so the request path takes no lock.
//
// This is the foundation's gateway: routing only. Canary splits, circuit
// breaking, retries and rate limits build on the same table.
package gateway

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Route sends requests whose Host is Host (or matches "*.domain") and whose
// path starts with Path to Backend ("127.0.0.1:port").
type Route struct {
	App     string
	Host    string
	Path    string
	Backend string
}

// Gateway routes requests by the current table.
type Gateway struct {
	log       *slog.Logger
	table     atomic.Pointer[table]
	transport *http.Transport
}

type entry struct {
	route Route
	proxy *httputil.ReverseProxy
}

// table holds routes grouped by host, each group longest path first.
type table struct {
	exact    map[string][]entry
	wildcard map[string][]entry // key: ".domain" for "*.domain"
}

// New returns a gateway with an empty table: every request gets 404 until
// Update is called.
func New(logger *slog.Logger) *Gateway {
	g := &Gateway{
		log: logger,
		transport: &http.Transport{
			Proxy:                 nil, // never send app traffic through an environment proxy
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		},
	}
	g.table.Store(&table{})
	return g
}

// Update compiles routes into a new table and swaps it in. Requests in
// flight finish on the table they started with.
func (g *Gateway) Update(routes []Route) {
	t := &table{exact: map[string][]entry{}, wildcard: map[string][]entry{}}
	for _, r := range routes {
		e := entry{route: r, proxy: g.newProxy(r)}
		host := strings.ToLower(r.Host)
		if strings.HasPrefix(host, "*.") {
			t.wildcard[host[1:]] = append(t.wildcard[host[1:]], e)
		} else {
			t.exact[host] = append(t.exact[host], e)
		}
	}
	for _, m := range []map[string][]entry{t.exact, t.wildcard} {
		for _, es := range m {
			sort.SliceStable(es, func(i, j int) bool { return len(es[i].route.Path) > len(es[j].route.Path) })
		}
	}
	g.table.Store(t)
}

var bufPool = &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}}

// bufferPool lends ReverseProxy its copy buffers: without it every request
// allocates 32 KiB, and the GC becomes most of the gateway's cost.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(v []byte) { b.p.Put(&v) }

func (g *Gateway) newProxy(r Route) *httputil.ReverseProxy {
	target := &url.URL{Scheme: "http", Host: r.Backend}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // apps see the host the client asked for
			pr.SetXForwarded()
		},
		Transport:  g.transport,
		BufferPool: bufPool,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			g.log.Warn("gateway: backend failed", "app", r.App, "host", req.Host, "backend", r.Backend, "err", err)
			http.Error(w, "berth gateway: the app's service is not answering", http.StatusBadGateway)
		},
	}
}

func (t *table) match(host, path string) *entry {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	if e := matchPath(t.exact[host], path); e != nil {
		return e
	}
	// The most specific wildcard wins: a.b.example.com tries .b.example.com
	// before .example.com.
	for i := strings.IndexByte(host, '.'); i >= 0; {
		if e := matchPath(t.wildcard[host[i:]], path); e != nil {
			return e
		}
		next := strings.IndexByte(host[i+1:], '.')
		if next < 0 {
			break
		}
		i += next + 1
	}
	return nil
}

func matchPath(es []entry, path string) *entry {
	for i := range es {
		p := es[i].route.Path
		if p == "/" || path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			return &es[i]
		}
	}
	return nil
}

// ServeHTTP routes one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := g.table.Load().match(r.Host, r.URL.Path)
	if e == nil {
		http.Error(w, "berth gateway: no route for "+r.Host+r.URL.Path, http.StatusNotFound)
		return
	}
	e.proxy.ServeHTTP(w, r)
}
