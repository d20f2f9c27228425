package password

import (
	"fmt"
	"unicode/utf8"
)

const (
	// MinLength is the fewest characters (not bytes) a new password may
	// have. Length is what makes a password hard to guess; NIST SP 800-63B
	// asks for at least 8 and recommends more, we ask for 12 and impose no
	// composition rules.
	MinLength = 12
	// MaxLength bounds the bytes hashed, so a megabyte "password" cannot
	// be used to burn CPU; no real passphrase comes near it.
	MaxLength = 1024
)

// CheckPolicy reports whether pw is acceptable as a new password. field
// names the input in the error (for example "password" or
// "new_password"), so the caller can hand the error straight to the user.
// Existing passwords are never re-checked at login: Verify does not call it.
func CheckPolicy(field, pw string) error {
	if !utf8.ValidString(pw) {
		return fmt.Errorf("%s: %w", field, ErrInvalidUTF8)
	}
	if len(pw) > MaxLength {
		return fmt.Errorf("%s: %w: at most %d bytes, got %d", field, ErrTooLong, MaxLength, len(pw))
	}
	if n := utf8.RuneCountInString(pw); n < MinLength {
		return fmt.Errorf("%s: %w: must be at least %d characters, got %d", field, ErrTooShort, MinLength, n)
	}
	return nil
}
