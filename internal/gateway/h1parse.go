package gateway

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
)

type parseResult int

const (
	parseOK      parseResult = iota
	parseHandoff             // net/http serves this request and the rest of the connection
	parseClose
)

// fieldPos locates one header field in h1conn.raw.
type fieldPos struct{ ks, ke, vs, ve int }

// tchar: the characters of a token (RFC 9110 5.6.2): methods and header
// names.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// hostChar: what the gateway's server accepts in a Host header; anything
// else goes to net/http, which decides.
var hostChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = tchar[c]
	}
	for _, c := range ":[]" {
		t[c] = true
	}
	return t
}()

// parse reads the request head into c.req. Anything the gateway's server
// does not handle itself (see Listener) is parseHandoff; nothing has been
// consumed from the connection then.
func (c *h1conn) parse(head []byte) parseResult {
	if !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		return parseHandoff
	}
	c.raw = append(c.raw[:0], head...)
	b := c.raw
	eol := bytes.IndexByte(b, '\n')
	if eol < 1 || b[eol-1] != '\r' {
		return parseHandoff
	}
	line := b[:eol-1]
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 || string(line[sp2+1:]) != "HTTP/1.1" {
		return parseHandoff
	}
	for _, ch := range line[:sp1] {
		if !tchar[ch] {
			return parseHandoff
		}
	}
	if string(line[:sp1]) == http.MethodConnect {
		return parseHandoff
	}
	target := line[sp1+1 : sp2]
	if target[0] != '/' {
		return parseHandoff
	}
	for _, ch := range target {
		if ch <= ' ' || ch >= 0x7f || ch == '#' {
			return parseHandoff
		}
	}

	fields := c.fields[:0]
	for pos := eol + 1; pos < len(b)-2; {
		e := bytes.IndexByte(b[pos:], '\n') + pos
		if e <= pos || b[e-1] != '\r' {
			return parseHandoff
		}
		ln := b[pos : e-1]
		if ln[0] == ' ' || ln[0] == '\t' {
			return parseHandoff // obsolete line folding
		}
		colon := bytes.IndexByte(ln, ':')
		if colon <= 0 {
			return parseHandoff
		}
		upper := true
		for i := range colon {
			ch := ln[i]
			if !tchar[ch] {
				return parseHandoff
			}
			// Canonical form, in place: "content-type" -> "Content-Type".
			switch {
			case upper && 'a' <= ch && ch <= 'z':
				ln[i] = ch - ('a' - 'A')
			case !upper && 'A' <= ch && ch <= 'Z':
				ln[i] = ch + ('a' - 'A')
			}
			upper = ch == '-'
		}
		vs, ve := colon+1, len(ln)
		for vs < ve && (ln[vs] == ' ' || ln[vs] == '\t') {
			vs++
		}
		for ve > vs && (ln[ve-1] == ' ' || ln[ve-1] == '\t') {
			ve--
		}
		for _, ch := range ln[vs:ve] {
			if (ch < ' ' && ch != '\t') || ch == 0x7f {
				return parseHandoff
			}
		}
		fields = append(fields, fieldPos{ks: pos, ke: pos + colon, vs: pos + vs, ve: pos + ve})
		pos = e + 1
	}
	c.fields = fields

	// One allocation per request: every string of the request is a
	// substring of this one.
	s := string(b)
	r := &c.req
	*r = *c.base
	r.Method = s[:sp1]
	r.RequestURI = s[sp1+1 : sp2]
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.RemoteAddr = c.remote
	clear(c.hdr)
	if cap(c.vals) < len(fields) {
		c.vals = make([]string, 0, len(fields)+8)
	}
	vals := c.vals[:0]
	host, cl := false, false
	for _, f := range fields {
		k, v := s[f.ks:f.ke], s[f.vs:f.ve]
		switch k {
		case "Host":
			if host {
				return parseHandoff
			}
			host = true
			for i := range len(v) {
				if !hostChar[v[i]] {
					return parseHandoff
				}
			}
			r.Host = v
			continue
		case "Content-Length":
			n, ok := parseLength([]byte(v))
			if cl || !ok {
				return parseHandoff
			}
			cl = true
			r.ContentLength = n
		case "Transfer-Encoding", "Expect", "Upgrade", "Http2-Settings":
			return parseHandoff
		case "Connection":
			if containsToken([]string{v}, "close") {
				r.Close = true
			}
		}
		if old, ok := c.hdr[k]; ok {
			c.hdr[k] = append(old, v)
			continue
		}
		vals = append(vals, v)
		c.hdr[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	c.vals = vals
	if !host {
		return parseHandoff // net/http answers 400
	}
	r.Header = c.hdr

	c.url = url.URL{}
	path, query, hasQuery := strings.Cut(r.RequestURI, "?")
	if strings.IndexByte(path, '%') >= 0 {
		u, err := url.ParseRequestURI(r.RequestURI)
		if err != nil {
			return parseHandoff
		}
		c.url = *u
	} else {
		c.url.Path = path
		c.url.RawQuery = query
		c.url.ForceQuery = hasQuery && query == ""
	}
	r.URL = &c.url
	if r.ContentLength > 0 {
		c.body = h1body{br: c.br, left: r.ContentLength}
		r.Body = &c.body
	} else {
		r.ContentLength = 0
		r.Body = http.NoBody
	}
	return parseOK
}
