package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxResponseHeader bounds an instance's response header.
const maxResponseHeader = 256 << 10

// respHead is a parsed response status line and header. Its strings share
// one allocation: the header block is parsed into scratch space, turned
// into a single string, and fields are substrings of it.
type respHead struct {
	status        int
	fields        []hdrField
	contentLength int64 // -1: unknown
	chunked       bool
	close         bool // the connection cannot be reused after this response
	dropped       []string
	sawByte       bool // some of the response arrived (decides whether a retry is safe)
	hasDate       bool
	hasReqID      bool // X-Request-Id
	ctype         int  // index in spans of Content-Type; -1: none
	fieldsMade    bool // fields hold the spans as strings (see strFields)

	scratch []byte
	spans   []span
}

type hdrField struct{ key, val string }

// span locates a field in scratch; a key with interned >= 0 uses the
// interned name instead.
type span struct {
	interned int
	ks, ke   int
	vs, ve   int
}

// parseLength parses a Content-Length value without allocating.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// maxKeptScratch: scratch space grown past this by an unusual response is
// not kept in the pool.
const maxKeptScratch = 32 << 10

func (h *respHead) reset() {
	h.status, h.contentLength, h.chunked, h.close, h.sawByte = 0, -1, false, false, false
	h.hasDate, h.hasReqID, h.ctype, h.fieldsMade = false, false, -1, false
	if cap(h.scratch) > maxKeptScratch || cap(h.fields) > 256 {
		h.scratch, h.fields, h.spans = nil, nil, nil
	}
	h.fields = h.fields[:0]
	h.dropped = h.dropped[:0]
	h.scratch = h.scratch[:0]
	h.spans = h.spans[:0]
}

// read reads a response head, skipping 1xx informational responses
// other than 101.
func (h *respHead) read(w *waiter, br *bufio.Reader) error {
	for {
		if err := h.readOne(w, br); err != nil {
			return err
		}
		if h.status >= 200 || h.status == http.StatusSwitchingProtocols {
			return nil
		}
	}
}

func (h *respHead) readOne(w *waiter, br *bufio.Reader) error {
	sawByte := h.sawByte
	h.reset()
	h.sawByte = sawByte
	line, err := w.readLine(br)
	if err != nil {
		if br.Buffered() > 0 {
			h.sawByte = true
		}
		return err
	}
	h.sawByte = true
	if err := h.parseStatus(line); err != nil {
		return err
	}
	total := len(line)
	for {
		line, err = w.readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		total += len(line)
		if total > maxResponseHeader {
			return errHeaderTooLarge
		}
		line = trimEOL(line)
		if len(line) == 0 {
			break
		}
		if err := h.addField(line); err != nil {
			return err
		}
	}
	h.finish()
	return nil
}

func trimEOL(b []byte) []byte {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

func (h *respHead) parseStatus(line []byte) error {
	line = trimEOL(line)
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return fmt.Errorf("%w: status line %q", errBadResponse, clip(line))
	}
	switch line[7] {
	case '1':
	case '0':
		h.close = true // HTTP/1.0 closes unless it says keep-alive
	default:
		return fmt.Errorf("%w: status line %q", errBadResponse, clip(line))
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: status line %q", errBadResponse, clip(line))
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || (len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("%w: status line %q", errBadResponse, clip(line))
	}
	h.status = code
	return nil
}

func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func (h *respHead) addField(line []byte) error {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || line[0] == ' ' || line[0] == '\t' {
		// No name, or an obsolete folded continuation line (RFC 9112
		// 5.2 lets a proxy reject those).
		return fmt.Errorf("%w: header line %q", errBadResponse, clip(line))
	}
	key := line[:colon]
	val := bytes.TrimLeft(line[colon+1:], " \t")
	val = bytes.TrimRight(val, " \t")
	for _, c := range key {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return fmt.Errorf("%w: header name %q", errBadResponse, clip(key))
		}
	}
	for _, c := range val {
		// A bare CR would end the line for some clients, forging fields
		// of the gateway's response (net/http's client rejects these too).
		if (c < ' ' && c != '\t') || c == 0x7f {
			return fmt.Errorf("%w: header value of %q", errBadResponse, clip(key))
		}
	}
	sp := span{interned: -1}
	var lower [32]byte
	if len(key) <= len(lower) {
		for i, c := range key {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		if i, ok := commonIndex[string(lower[:len(key)])]; ok {
			sp.interned = i
		}
	}
	if sp.interned < 0 {
		sp.ks = len(h.scratch)
		h.scratch = appendCanonical(h.scratch, key)
		sp.ke = len(h.scratch)
	}
	sp.vs = len(h.scratch)
	h.scratch = append(h.scratch, val...)
	sp.ve = len(h.scratch)

	switch sp.interned {
	case hiContentLength:
		n, ok := parseLength(val)
		if !ok || (h.contentLength >= 0 && n != h.contentLength) {
			return fmt.Errorf("%w: Content-Length %q", errBadResponse, clip(val))
		}
		h.contentLength = n
	case hiTransferEncoding:
		if len(val) > 0 && !bytes.EqualFold(val, []byte("identity")) {
			// Only chunked, as net/http's client: the gateway removes the
			// chunking and the field, so another coding ("gzip, chunked")
			// would reach the client undeclared.
			if !bytes.EqualFold(val, []byte("chunked")) {
				return fmt.Errorf("%w: Transfer-Encoding %q", errBadResponse, clip(val))
			}
			h.chunked = true
		}
	case hiConnection:
		h.connectionTokens(val)
	case hiDate:
		h.hasDate = true
	case hiRequestID:
		h.hasReqID = true
	case hiContentType:
		h.ctype = len(h.spans)
	}
	h.spans = append(h.spans, sp)
	return nil
}

func (h *respHead) connectionTokens(val []byte) {
	for len(val) > 0 {
		var tok []byte
		tok, val, _ = bytes.Cut(val, []byte(","))
		tok = bytes.TrimSpace(tok)
		switch {
		case len(tok) == 0:
		case bytes.EqualFold(tok, []byte("close")):
			h.close = true
		case bytes.EqualFold(tok, []byte("keep-alive")):
			h.close = false
		case bytes.EqualFold(tok, []byte("upgrade")):
		default:
			h.dropped = append(h.dropped, http.CanonicalHeaderKey(string(tok)))
		}
	}
}

// finish completes the parse.
func (h *respHead) finish() {
	if h.chunked {
		h.contentLength = -1
	}
}

// strFields turns the scratch space into the one string the fields
// share; only responses passed on through a header map need them (the
// gateway's own server writes the spans as they are).
func (h *respHead) strFields() []hdrField {
	if h.fieldsMade {
		return h.fields
	}
	h.fieldsMade = true
	s := string(h.scratch)
	for _, sp := range h.spans {
		f := hdrField{val: s[sp.vs:sp.ve]}
		if sp.interned >= 0 {
			f.key = commonHeaders[sp.interned]
		} else {
			f.key = s[sp.ks:sp.ke]
		}
		h.fields = append(h.fields, f)
	}
	return h.fields
}

// eventStream reports a Content-Type of text/event-stream.
func (h *respHead) eventStream() bool {
	if h.ctype < 0 {
		return false
	}
	sp := h.spans[h.ctype]
	return bytes.HasPrefix(h.scratch[sp.vs:sp.ve], []byte("text/event-stream"))
}

// skipBytes is skip for a field name that is not interned (so none of the
// fixed hop-by-hop names).
func (h *respHead) skipBytes(k []byte) bool {
	for _, d := range h.dropped {
		if d == string(k) {
			return true
		}
	}
	return false
}

// noBody reports responses that never have a body whatever their header
// says.
func (h *respHead) noBody(method string) bool {
	return method == http.MethodHead || h.status == http.StatusNoContent ||
		h.status == http.StatusNotModified || h.status < 200
}

// skipResponseHeader reports response headers not passed to the client.
func (h *respHead) skip(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Te", "Transfer-Encoding", "Upgrade":
		// Trailer is kept: it announces trailers, and makes net/http
		// send the body chunked so they can follow it.
		return true
	case "Content-Length":
		return h.chunked
	}
	for _, d := range h.dropped {
		if d == k {
			return true
		}
	}
	return false
}

// appendCanonical appends key in canonical MIME form ("content-type" ->
// "Content-Type").
func appendCanonical(dst, key []byte) []byte {
	upper := true
	for _, c := range key {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
		upper = c == '-'
	}
	return dst
}

// Common response header names, interned so most keys cost nothing.
var commonHeaders = []string{
	"Content-Length", "Transfer-Encoding", "Connection",
	"Content-Type", "Date", "Server", "Keep-Alive", "Cache-Control", "Etag",
	"Last-Modified", "Expires", "Set-Cookie", "Location", "Vary",
	"Content-Encoding", "Accept-Ranges", "Access-Control-Allow-Origin",
	"Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
	"Access-Control-Allow-Methods", "Access-Control-Expose-Headers",
	"X-Content-Type-Options", "X-Frame-Options", "Strict-Transport-Security",
	"X-Request-Id", "Traceparent", "Tracestate", "Upgrade", "Sec-Websocket-Accept",
	"Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Trailer",
	"Content-Security-Policy", "Age", "Via", "Www-Authenticate", "Retry-After",
	"Content-Disposition", "Content-Language", "Content-Range", "Link",
	"X-Powered-By", "Alt-Svc", "Pragma", "Referrer-Policy", "X-Xss-Protection",
	"Grpc-Status", "Grpc-Message", "Proxy-Authenticate", "Proxy-Connection", "Te",
}

// Indexes in commonHeaders the parser looks for.
const (
	hiContentLength    = 0
	hiTransferEncoding = 1
	hiConnection       = 2
	hiContentType      = 3
	hiDate             = 4
	hiRequestID        = 24
)

var commonIndex = func() map[string]int {
	m := make(map[string]int, len(commonHeaders))
	for i, k := range commonHeaders {
		m[string(bytes.ToLower([]byte(k)))] = i
	}
	return m
}()
