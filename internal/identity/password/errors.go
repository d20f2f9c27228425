package password

import "errors"

var (
	// ErrTooShort means a new password is below MinLength characters.
	ErrTooShort = errors.New("too short")
	// ErrTooLong means a new password is above MaxLength bytes.
	ErrTooLong = errors.New("too long")
	// ErrInvalidUTF8 means a new password is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("not valid UTF-8")
	// ErrMalformedHash means a stored hash string is not an argon2id PHC
	// string this package can read (corrupt row, other algorithm, limits).
	ErrMalformedHash = errors.New("malformed password hash")
)
