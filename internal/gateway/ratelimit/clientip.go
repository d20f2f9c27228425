package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address a request's bucket belongs to. It is the peer
// address (RemoteAddr) unless that peer is a trusted proxy, in which case
// X-Forwarded-For is read from the right, skipping trusted proxies, and the
// first address not trusted is the client: everything left of it was
// written by the client and may be forged. IPv6 clients are keyed by their
// /64, which is what one client usually holds: keying by full address would
// give each client 2^64 buckets.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	addr := peerAddr(r.RemoteAddr)
	if len(trusted) > 0 && isTrusted(addr, trusted) {
		addr = forwardedFor(r.Header["X-Forwarded-For"], addr, trusted)
	}
	if addr.Is6() {
		addr = netip.PrefixFrom(addr.WithZone(""), 64).Masked().Addr()
	}
	return addr
}

// peerAddr parses RemoteAddr ("ip:port"). Something else (a unix socket)
// gives the zero Addr, one shared bucket for all such peers.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor walks X-Forwarded-For right to left from the trusted peer.
func forwardedFor(values []string, peer netip.Addr, trusted []netip.Prefix) netip.Addr {
	last := peer // the leftmost trusted hop so far
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			part := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				part, v = v[j+1:], v[:j]
			} else {
				v = ""
			}
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			a, ok := parseHop(part)
			if !ok {
				// Garbage where an address should be: believe nothing
				// further left, and key by the last hop we trust.
				return last
			}
			if !isTrusted(a, trusted) {
				return a
			}
			last = a
		}
	}
	return last
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port or in brackets, as some proxies write it.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}
