package gitsrc

import "errors"

var (
	// ErrBadSource matches errors about a URL, ref or commit that is
	// refused before any network access.
	ErrBadSource = errors.New("gitsrc: bad source")
	// ErrCommitNotFound is returned when the commit is not in the
	// repository (or not reachable from the ref given).
	ErrCommitNotFound = errors.New("gitsrc: commit not found")
	// ErrUnauthorized is returned when the server asks for credentials
	// that were not given, or refuses those that were.
	ErrUnauthorized = errors.New("gitsrc: the repository refused access")
)
