package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// h1writer is the http.ResponseWriter (and http.Flusher) of the gateway's
// own server, reused for every request of a connection. The proxy writes
// an instance's response head straight into the connection's buffer
// (proxyHead); policy middleware and the gateway's own error answers use
// the header map, as with any ResponseWriter. A response of unknown
// length is buffered up to the write buffer's size, so a short answer
// gets a Content-Length; longer or flushed ones are sent chunked.
type h1writer struct {
	c           *h1conn
	header      http.Header
	method      string
	status      int
	wroteHeader bool // the status is decided
	headSent    bool // the head is in the connection's buffer
	chunked     bool
	noBody      bool
	cl          int64 // declared Content-Length; -1: none
	written     int64
	pending     []byte // body written before the head was sent
	closeAfter  bool
	err         error
}

func (w *h1writer) reset(r *http.Request) {
	clear(w.header)
	w.method = r.Method
	w.status = 0
	w.wroteHeader, w.headSent, w.chunked, w.noBody = false, false, false, false
	w.cl, w.written = -1, 0
	w.pending = w.pending[:0]
	w.closeAfter = r.Close
	w.err = nil
}

func (w *h1writer) Header() http.Header { return w.header }

func (w *h1writer) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.interim(code)
		return
	}
	w.status = code
	w.wroteHeader = true
	w.noBody = w.method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified || code < 200
	if v := w.header["Content-Length"]; len(v) == 1 {
		if n, ok := parseLength([]byte(v[0])); ok {
			w.cl = n
		}
	}
}

// interim sends a 1xx response at once.
func (w *h1writer) interim(code int) {
	bw := w.c.bw
	w.statusLine(code)
	for k, vs := range w.header {
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	_, _ = bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

func (w *h1writer) statusLine(code int) {
	bw := w.c.bw
	// AvailableBuffer: formatting in place allocates nothing.
	_, _ = bw.Write(strconv.AppendInt(append(bw.AvailableBuffer(), "HTTP/1.1 "...), int64(code), 10))
	_ = bw.WriteByte(' ')
	if t := http.StatusText(code); t != "" {
		_, _ = bw.WriteString(t)
	} else {
		_, _ = bw.WriteString("status code")
	}
	_, _ = bw.WriteString("\r\n")
}

func (w *h1writer) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.noBody {
		if w.method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if !w.headSent {
		if w.cl < 0 && len(w.pending)+len(p) <= h1WriteBuf {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		w.sendHead(w.cl < 0)
		if len(w.pending) > 0 {
			_, _ = w.body(w.pending)
			w.pending = w.pending[:0]
		}
	}
	return w.body(p)
}

func (w *h1writer) body(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !w.chunked && w.cl >= 0 && w.written+int64(len(p)) > w.cl {
		// Bytes past the declared length would be read by the client as
		// the start of the next response; net/http refuses them too.
		// finish then sees the response short and closes the connection.
		return 0, http.ErrContentLength
	}
	bw := w.c.bw
	if w.chunked {
		_, _ = bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(len(p)), 16))
		_, _ = bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	if err == nil && w.chunked {
		_, err = bw.WriteString("\r\n")
	}
	w.written += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Flush sends what was written so far.
func (w *h1writer) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.sendHead(w.cl < 0 && !w.noBody)
		if len(w.pending) > 0 {
			_, _ = w.body(w.pending)
			w.pending = w.pending[:0]
		}
	}
	if err := w.c.bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

// finish completes the response in the connection's buffer; false: the
// connection cannot carry another request.
func (w *h1writer) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	bw := w.c.bw
	if !w.headSent {
		if w.cl < 0 && !w.noBody {
			w.cl = int64(len(w.pending))
			w.header["Content-Length"] = nil // written by sendHead from cl
		}
		w.sendHead(false)
		if len(w.pending) > 0 {
			_, _ = w.body(w.pending)
			w.pending = w.pending[:0]
		}
	}
	if w.chunked {
		_, _ = bw.WriteString("0\r\n")
		w.trailers()
		_, _ = bw.WriteString("\r\n")
	}
	if w.cl >= 0 && !w.noBody && w.written != w.cl {
		return false // the client would wait for bytes that never come
	}
	return w.err == nil
}

// sendHead writes the status line and the header map.
func (w *h1writer) sendHead(chunked bool) {
	w.headSent, w.chunked = true, chunked
	bw := w.c.bw
	w.statusLine(w.status)
	hasDate, hasConn := false, false
	for k, vs := range w.header {
		switch k {
		case "Transfer-Encoding":
			continue
		case "Content-Length":
			if len(vs) == 0 || chunked || w.noBody && w.status != http.StatusNotModified && w.method != http.MethodHead {
				continue
			}
		case "Date":
			hasDate = true
		case "Connection":
			hasConn = true
			if containsToken(vs, "close") {
				w.closeAfter = true
			}
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	if !hasDate {
		_, _ = bw.Write(dateField())
	}
	if w.cl >= 0 && !w.noBody && w.header["Content-Length"] == nil {
		_, _ = bw.Write(strconv.AppendInt(append(bw.AvailableBuffer(), "Content-Length: "...), w.cl, 10))
		_, _ = bw.WriteString("\r\n")
	}
	w.endHead(chunked, hasConn)
}

func (w *h1writer) endHead(chunked, hasConn bool) {
	bw := w.c.bw
	if chunked {
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if w.closeAfter && !hasConn {
		_, _ = bw.WriteString("Connection: close\r\n")
	}
	_, _ = bw.WriteString("\r\n")
}

// trailers writes the fields set after the head: "Trailer:"-prefixed
// keys, and keys the Trailer field announced.
func (w *h1writer) trailers() {
	bw := w.c.bw
	for k, vs := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			for _, v := range vs {
				writeField(bw, name, v)
			}
		}
	}
	for _, decl := range w.header["Trailer"] {
		for decl != "" {
			var name string
			name, decl, _ = strings.Cut(decl, ",")
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			for _, v := range w.header[name] {
				writeField(bw, name, v)
			}
		}
	}
}

// proxyHead writes an instance's response head as the client's: the
// instance's fields as they came (but hop-by-hop ones), fields policy
// middleware set, and the gateway's own.
func (w *h1writer) proxyHead(h *respHead, rs *reqState) {
	w.status, w.wroteHeader = h.status, true
	w.noBody = h.noBody(w.method)
	chunked := !w.noBody && (h.chunked || h.contentLength < 0)
	if !w.noBody && !chunked {
		w.cl = h.contentLength
	}
	w.headSent, w.chunked = true, chunked
	bw := w.c.bw
	w.statusLine(h.status)
	for _, sp := range h.spans {
		var key []byte
		if sp.interned >= 0 {
			if h.skip(commonHeaders[sp.interned]) {
				continue
			}
			_, _ = bw.WriteString(commonHeaders[sp.interned])
		} else {
			key = h.scratch[sp.ks:sp.ke]
			if h.skipBytes(key) {
				continue
			}
			_, _ = bw.Write(key)
		}
		_, _ = bw.WriteString(": ")
		_, _ = bw.Write(h.scratch[sp.vs:sp.ve])
		_, _ = bw.WriteString("\r\n")
	}
	hasReqID := h.hasReqID
	for k, vs := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		if k == hdrRequestID {
			if hasReqID {
				continue
			}
			hasReqID = true
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	if !hasReqID {
		_, _ = bw.WriteString("X-Request-Id: ")
		_, _ = bw.WriteString(rs.reqID)
		_, _ = bw.WriteString("\r\n")
	}
	if rs.rt.showRelease {
		_, _ = bw.WriteString("X-Berth-Release: ")
		_, _ = bw.WriteString(rs.ep.releaseHdr[0])
		_, _ = bw.WriteString("\r\n")
	}
	if rs.setSticky {
		_, _ = bw.WriteString("Set-Cookie: ")
		_, _ = bw.WriteString(rs.tr.cookieHdr[0])
		_, _ = bw.WriteString("\r\n")
	}
	if !h.hasDate {
		_, _ = bw.Write(dateField())
	}
	w.endHead(chunked, false)
}

// writeField writes "k: v", with any line break in v (which would let a
// value forge fields) turned into a space, as net/http does.
func writeField(bw interface {
	WriteString(string) (int, error)
}, k, v string) {
	if strings.ContainsAny(k, "\r\n:") || k == "" {
		return
	}
	_, _ = bw.WriteString(k)
	_, _ = bw.WriteString(": ")
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	_, _ = bw.WriteString(v)
	_, _ = bw.WriteString("\r\n")
}

// dateField is "Date: <now>\r\n", formatted once a second.
func dateField() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.field
	}
	d := &cachedDate{sec: sec}
	d.field = append([]byte("Date: "), now.UTC().AppendFormat(nil, http.TimeFormat)...)
	d.field = append(d.field, "\r\n"...)
	dateCache.Store(d)
	return d.field
}

type cachedDate struct {
	sec   int64
	field []byte
}

var dateCache atomic.Pointer[cachedDate]
