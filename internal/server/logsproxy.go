package server

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// forwardedHeader marks a request one replica forwarded to another, so a
// leader that lost its lease meanwhile answers it rather than forwarding
// it again.
const forwardedHeader = "X-Berth-Forwarded-By"

// leaderAddr is the API address of the server holding the lease ("" if
// none is valid, or on SQLite). The holder names it after its last "@".
func (r *replication) leaderAddr(ctx context.Context) string {
	if r.pool == nil {
		return ""
	}
	h, err := r.leases.Current(ctx, leaseName)
	if err != nil || !h.Valid || h.Holder == r.holder {
		return ""
	}
	i := strings.LastIndexByte(h.Holder, '@')
	if i < 0 {
		return ""
	}
	addr := h.Holder[i+1:]
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || net.ParseIP(host).IsUnspecified()) {
		// Listening on every interface: reach it on this machine.
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// logsToLeader sends requests for an app's logs to the leader when this
// server does not lead: logs come from the local runtime, which only the
// leader opens. The leader authenticates and authorizes the request
// itself (the credentials are forwarded as they came).
func (r *replication) logsToLeader(next http.Handler) http.Handler {
	if r.pool == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet || !isAppLogs(req.URL.Path) || r.leading.Load() == 1 || req.Header.Get(forwardedHeader) != "" {
			next.ServeHTTP(w, req)
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		addr := r.leaderAddr(ctx)
		cancel()
		if addr == "" {
			next.ServeHTTP(w, req) // answers that no leader serves logs now
			return
		}
		p := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(&url.URL{Scheme: "http", Host: addr})
				pr.Out.Header.Set(forwardedHeader, r.holder)
			},
			FlushInterval: -1, // followed logs stream
		}
		p.ServeHTTP(w, req)
	})
}

// isAppLogs matches /api/v1/apps/{app}/logs.
func isAppLogs(path string) bool {
	rest, ok := strings.CutPrefix(path, "/api/v1/apps/")
	if !ok {
		return false
	}
	app, tail, ok := strings.Cut(rest, "/")
	return ok && app != "" && tail == "logs"
}
