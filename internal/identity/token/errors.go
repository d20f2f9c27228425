package token

import "errors"

var (
	// ErrMalformed means the presented string is not a Berth token at all
	// (wrong prefix, length, alphabet or checksum): reject it without a
	// store lookup.
	ErrMalformed = errors.New("malformed token")
	// ErrMismatch means a well-formed token whose hash is not the stored
	// one.
	ErrMismatch = errors.New("token does not match")
	// ErrExpired means the token matched but its expiry has passed.
	ErrExpired = errors.New("token expired")
	// ErrInvalid means bad input when creating a token (kind, scope, ttl).
	ErrInvalid = errors.New("invalid")
)
