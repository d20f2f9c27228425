package secrets

import "errors"

var (
	// ErrKey means a master key could not be loaded or is not 32 bytes.
	ErrKey = errors.New("bad master key")
	// ErrUnknownKey means an envelope names a key ID the keyring lacks:
	// load the old key alongside the new one until Rotate has run.
	ErrUnknownKey = errors.New("secret sealed with a key that is not loaded")
	// ErrDecrypt means authentication failed: the ciphertext was changed,
	// or it belongs to another team, object or name than the one asked.
	ErrDecrypt = errors.New("secret does not decrypt")
	// ErrMalformed means a stored envelope cannot be parsed.
	ErrMalformed = errors.New("malformed secret envelope")
	// ErrInvalid means bad input (an empty binding field, for example).
	ErrInvalid = errors.New("invalid")
)
