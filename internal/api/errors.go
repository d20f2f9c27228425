package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/berthdev/berth/pkg/api"
)

// errAppDeleting is returned inside transactions when a write meets an app
// that is being deleted; handlers answer 409.
var errAppDeleting = errors.New("app is being deleted")

// httpError is an error a handler answers with: a status and the wire error.
// Anything else a handler returns becomes a 500 whose details stay in the log.
type httpError struct {
	status int
	body   api.Error
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.body.Code, e.body.Message)
}

func newError(status int, code, format string, args ...any) *httpError {
	return &httpError{status: status, body: api.Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// withDetails adds field problems to e.
func (e *httpError) withDetails(details ...api.FieldError) *httpError {
	e.body.Details = append(e.body.Details, details...)
	return e
}

func badRequest(format string, args ...any) *httpError {
	return newError(http.StatusBadRequest, api.CodeBadRequest, format, args...)
}

// invalidField is the 422 for one bad field, the most common bad input.
func invalidField(field, format string, args ...any) *httpError {
	msg := fmt.Sprintf(format, args...)
	return newError(http.StatusUnprocessableEntity, api.CodeInvalid, "%s: %s", field, msg).
		withDetails(api.FieldError{Field: field, Message: msg})
}

func notFound(format string, args ...any) *httpError {
	return newError(http.StatusNotFound, api.CodeNotFound, format, args...)
}

func conflict(format string, args ...any) *httpError {
	return newError(http.StatusConflict, api.CodeConflict, format, args...)
}

func tooLarge(limit int64) *httpError {
	return newError(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "request body is larger than the limit of %d bytes", limit)
}

func unauthorized() *httpError {
	// One message for a missing, malformed and unknown token, so a caller
	// cannot tell which part failed.
	return newError(http.StatusUnauthorized, api.CodeUnauthorized,
		"a valid API token is required: send \"Authorization: Bearer <token>\" (the admin token is in <data-dir>/admin-token)")
}
