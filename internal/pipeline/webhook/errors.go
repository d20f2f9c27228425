package webhook

import (
	"errors"
	"net/http"
)

var (
	// ErrSignature: the signature or token is missing or wrong (401).
	ErrSignature = errors.New("webhook: bad or missing signature")
	// ErrReplay: the delivery ID was seen before (409).
	ErrReplay = errors.New("webhook: delivery already received")
	// ErrTooLarge: the body is over the size limit (413).
	ErrTooLarge = errors.New("webhook: body too large")
	// ErrBadRequest: a header or the payload is malformed (400).
	ErrBadRequest = errors.New("webhook: bad request")
	// ErrMethod: not a POST (405).
	ErrMethod = errors.New("webhook: method not allowed")
	// ErrIgnored: a genuine event that starts no run (a ping, a branch
	// deletion, a closed pull request); answer 202 and do nothing.
	ErrIgnored = errors.New("webhook: event ignored")
)

// StatusCode is the HTTP status to answer err with.
func StatusCode(err error) int {
	switch {
	case err == nil, errors.Is(err, ErrIgnored):
		return http.StatusAccepted
	case errors.Is(err, ErrSignature):
		return http.StatusUnauthorized
	case errors.Is(err, ErrReplay):
		return http.StatusConflict
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrMethod):
		return http.StatusMethodNotAllowed
	default:
		return http.StatusInternalServerError
	}
}
