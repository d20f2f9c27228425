package routefeed

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/pkg/api"
)

// readyEndpoints lists the ready instances of svc that may take the
// serving release's traffic: the serving release's own, and, during a
// rolling update, the new release's (the old ones may all be gone before
// the new release is marked serving). Instances of a release that failed
// are left out. Endpoint.Release records which release each one runs.
func readyEndpoints(st api.AppStatus, svc string) []gateway.Endpoint {
	return endpoints(st, svc, func(rel int) bool {
		return rel == st.Serving || (rel == st.Release && st.Phase != api.PhaseFailed)
	})
}

// releaseEndpoints lists the ready instances of svc that run release rel:
// one track of a canary.
func releaseEndpoints(st api.AppStatus, svc string, rel int) []gateway.Endpoint {
	return endpoints(st, svc, func(r int) bool { return r == rel })
}

// endpoints lists the ready instances of svc whose release passes keep,
// sorted by address.
func endpoints(st api.AppStatus, svc string, keep func(release int) bool) []gateway.Endpoint {
	var eps []gateway.Endpoint
	for _, ss := range st.Services {
		if ss.Name != svc {
			continue
		}
		for _, in := range ss.Instances {
			if !in.Ready || in.Port <= 0 || in.Port > 65535 || !keep(in.Release) {
				continue
			}
			host := in.Host
			if host == "" {
				host = "127.0.0.1"
			}
			eps = append(eps, gateway.Endpoint{
				Addr:     net.JoinHostPort(host, strconv.Itoa(in.Port)),
				Instance: in.ID,
				Release:  in.Release,
			})
		}
	}
	slices.SortFunc(eps, func(a, b gateway.Endpoint) int { return strings.Compare(a.Addr, b.Addr) })
	// Two instances can never share an address, but a stale status must not
	// make the whole snapshot invalid.
	return slices.CompactFunc(eps, func(a, b gateway.Endpoint) bool { return a.Addr == b.Addr })
}
