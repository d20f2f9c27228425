package auth

import "errors"

// ErrInvalidConfig is wrapped by every error New returns for a bad
// AuthPolicy; the error's text names the field and what was expected.
var ErrInvalidConfig = errors.New("invalid auth policy")

// fieldError names one bad field of an AuthPolicy.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return "auth." + e.field + ": " + e.msg }
func (e *fieldError) Unwrap() error { return ErrInvalidConfig }

// rejection is why a request was refused: what the client is told
// (never the token or key itself) and what the log gets.
type rejection struct {
	status int    // 401, or 503 when the issuer's keys cannot be had
	desc   string // error_description; "" when no credentials were sent
	bearer bool   // a bearer token was presented (error="invalid_token")
	cause  error  // for the log only
}

func (r *rejection) Error() string { return r.desc }

func reject(desc string, bearer bool, cause error) *rejection {
	return &rejection{status: 401, desc: desc, bearer: bearer, cause: cause}
}
