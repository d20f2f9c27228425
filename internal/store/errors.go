package store

import "errors"

// Sentinel errors, checked with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	// ErrConflict means the object changed since it was read (version mismatch).
	ErrConflict = errors.New("store: version conflict")
	// ErrInvalid means an argument cannot be stored (an empty key, a JSON
	// field that is not JSON); the error text names the field.
	ErrInvalid = errors.New("store: invalid input")
	// ErrFull means a bounded table holds as many rows as it may.
	ErrFull = errors.New("store: full")
)
