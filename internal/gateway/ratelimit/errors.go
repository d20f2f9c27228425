package ratelimit

import "errors"

// ErrInvalidConfig is wrapped by every error New returns for a bad
// RateLimitPolicy; the error's text names the field and what was expected.
var ErrInvalidConfig = errors.New("invalid rate limit policy")

// fieldError names one bad field of a RateLimitPolicy.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return "rate_limit." + e.field + ": " + e.msg }
func (e *fieldError) Unwrap() error { return ErrInvalidConfig }
