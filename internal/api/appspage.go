package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berthdev/berth/pkg/api"
)

// page is a request's ?limit and ?after.
type page struct {
	limit int
	after string // the last name of the previous page
}

// pageParams reads ?limit (1 to api.MaxPageLimit, default
// api.DefaultPageLimit) and ?after (a cursor from an earlier answer).
func pageParams(r *http.Request) (page, error) {
	q := r.URL.Query()
	p := page{limit: api.DefaultPageLimit}
	if q.Has("limit") {
		v := q.Get("limit")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > api.MaxPageLimit {
			return page{}, badParam("limit", "%q is not a page size: want a whole number from 1 to %d", v, api.MaxPageLimit)
		}
		p.limit = n
	}
	if q.Has("after") {
		name, err := decodeCursor(q.Get("after"))
		if err != nil {
			return page{}, err
		}
		p.after = name
	}
	return p, nil
}

// The cursor is the page's last name, base64url-encoded: opaque to
// clients, so its form may change without breaking them.
func encodeCursor(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !appNameRE.Match(b) {
		return "", badParam("after", "%q is not a cursor from an earlier page; pass the %s header of the previous answer as it is", c, api.NextCursorHeader)
	}
	return string(b), nil
}

// setNext tells the client where the next page starts.
func setNext(w http.ResponseWriter, r *http.Request, p page, last string) {
	c := encodeCursor(last)
	w.Header().Set(api.NextCursorHeader, c)
	q := url.Values{"limit": {strconv.Itoa(p.limit)}, "after": {c}}
	w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
}

// badParam is the 400 for a bad query parameter, naming it.
func badParam(name, format string, args ...any) *httpError {
	msg := fmt.Sprintf(format, args...)
	return badRequest("%s: %s", name, msg).withDetails(api.FieldError{Field: name, Message: msg})
}
