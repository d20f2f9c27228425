package gateway

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
)

// Headers the gateway sets on forwarded requests.
const (
	hdrForwardedFor   = "X-Forwarded-For"
	hdrForwardedHost  = "X-Forwarded-Host"
	hdrForwardedProto = "X-Forwarded-Proto"
	hdrRequestID      = "X-Request-Id"
)

// skipRequestHeader reports request headers not copied as they are:
// hop-by-hop headers (RFC 9110 7.6.1, and the legacy Proxy-Connection and
// Keep-Alive), body framing the gateway writes itself, Expect (the
// gateway's own server answers 100-continue), and the forwarding headers
// it rewrites.
func skipRequestHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authorization",
		"Proxy-Authenticate", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Content-Length", "Host", "Expect",
		hdrForwardedFor, hdrForwardedHost, hdrForwardedProto, hdrRequestID:
		return true
	}
	return false
}

// connectionListed reports whether the Connection header values name k,
// which makes k hop-by-hop too.
func connectionListed(conn []string, k string) bool {
	for _, v := range conn {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(tok), k) {
				return true
			}
		}
	}
	return false
}

// upgradeType returns the protocol a request asks to switch to
// ("websocket"), or "".
func upgradeType(h http.Header) string {
	conn := h["Connection"]
	if len(conn) == 0 || !connectionListed(conn, "upgrade") {
		return ""
	}
	if u := h["Upgrade"]; len(u) > 0 {
		return u[0]
	}
	return ""
}

// clientIP is the peer address of r without its port, as a substring.
func clientIP(r *http.Request) string {
	a := r.RemoteAddr
	if i := strings.LastIndexByte(a, ':'); i >= 0 {
		a = a[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(a, "["), "]")
}

// writeHead writes the request line and header of the forwarded request
// straight into the connection's buffer: no header map is cloned.
// bodyLen is the body's length, or -1 to send it chunked.
func writeHead(bw *bufio.Writer, r *http.Request, reqID string, bodyLen int64, upgrade string) {
	uri := r.RequestURI
	if uri == "" || (uri[0] != '/' && uri != "*") {
		uri = r.URL.RequestURI()
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")

	conn := r.Header["Connection"]
	for k, vs := range r.Header {
		if skipRequestHeader(k) {
			if k == "Te" && containsToken(vs, "trailers") {
				// "TE: trailers" says the client understands trailers
				// (gRPC needs it); it is the one TE value worth passing.
				bw.WriteString("Te: trailers\r\n")
			}
			continue
		}
		// The gateway's own identity headers (X-Berth-*, set by the auth
		// policy after stripping the client's) are never hop-by-hop: a
		// client naming one in Connection must not hide it from the
		// service.
		if conn != nil && !strings.HasPrefix(k, "X-Berth-") && connectionListed(conn, k) {
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}

	// The client's X-Forwarded-For is kept (it may hold a chain of proxies
	// in front of Berth) and the peer the gateway saw is appended; services
	// must trust only the last entry unless they trust what is in front.
	bw.WriteString("X-Forwarded-For: ")
	for _, v := range r.Header[hdrForwardedFor] {
		bw.WriteString(v)
		bw.WriteString(", ")
	}
	bw.WriteString(clientIP(r))
	bw.WriteString("\r\nX-Forwarded-Host: ")
	bw.WriteString(r.Host)
	if r.TLS != nil {
		bw.WriteString("\r\nX-Forwarded-Proto: https\r\nX-Request-Id: ")
	} else {
		bw.WriteString("\r\nX-Forwarded-Proto: http\r\nX-Request-Id: ")
	}
	bw.WriteString(reqID)
	bw.WriteString("\r\n")

	switch {
	case upgrade != "":
		bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
		bw.WriteString(upgrade)
		bw.WriteString("\r\n")
	case bodyLen < 0:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case bodyLen > 0 || methodHasBody(r.Method):
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), bodyLen, 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
}

// methodHasBody: methods whose requests carry a body by convention, so an
// empty one is sent as "Content-Length: 0" (some servers answer 411
// otherwise).
func methodHasBody(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

func containsToken(vs []string, tok string) bool {
	for _, v := range vs {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}
