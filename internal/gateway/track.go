package gateway

import (
	"net/http"
	"strings"
)

// Names clients use to choose or keep a track.
const (
	// TrackHeader pins one request to a track ("canary" or "stable").
	TrackHeader = "X-Berth-Track"
	// TrackCookie pins every request carrying it, like TrackHeader.
	TrackCookie = "berth-track"
	// StickyCookie is set by routes with Sticky on a client's first
	// response while a canary runs, so it keeps the track it got.
	StickyCookie = "berth-sticky"
	// ReleaseHeader names the release that answered, while a route has more
	// than one track.
	ReleaseHeader = "X-Berth-Release"
)

// chooseTrack picks the request's track: the X-Berth-Track header, then
// the berth-track cookie, then (Sticky routes) the berth-sticky cookie,
// then the weighted cycle. A pin to a track the route does not have is
// ignored. A pin may name a track of weight 0, so a canary can be tried
// before it takes any traffic.
func (rt *route) chooseTrack(r *http.Request, rs *reqState) *track {
	if !rt.multiTrack {
		return rt.tracks[0]
	}
	if v := r.Header[TrackHeader]; len(v) > 0 {
		if t := rt.trackNamed(v[0]); t != nil {
			return t
		}
	}
	if c := r.Header["Cookie"]; len(c) > 0 {
		if v, ok := cookieValue(c, TrackCookie); ok {
			if t := rt.trackNamed(v); t != nil {
				return t
			}
		}
		if rt.sticky {
			if v, ok := cookieValue(c, StickyCookie); ok {
				if t := rt.trackNamed(v); t != nil {
					return t
				}
			}
		}
	}
	rs.setSticky = rt.sticky
	return rt.tracks[rt.cycle[rt.state.cycle.Add(1)%100]]
}

func (rt *route) trackNamed(name string) *track {
	for _, t := range rt.tracks {
		if t.name == name {
			return t
		}
	}
	return nil
}

// cookieValue finds a cookie in Cookie header lines without allocating
// (r.Cookie parses and allocates every cookie).
func cookieValue(lines []string, name string) (string, bool) {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				return strings.Trim(part[len(name)+1:], `"`), true
			}
		}
	}
	return "", false
}
