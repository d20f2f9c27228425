package breaker

import "errors"

// ErrInvalidConfig is wrapped by every error New returns for a bad
// BreakerPolicy; the error's text names the field and what was expected.
var ErrInvalidConfig = errors.New("invalid breaker policy")

// fieldError names one bad field of a BreakerPolicy.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return "breaker." + e.field + ": " + e.msg }
func (e *fieldError) Unwrap() error { return ErrInvalidConfig }
