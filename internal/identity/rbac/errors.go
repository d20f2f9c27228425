package rbac

import "errors"

var (
	// ErrNotFound means the principal is not a member of the team. Callers
	// answer it exactly as they answer a missing object (HTTP 404), so a
	// team's objects cannot be discovered by guessing IDs.
	ErrNotFound = errors.New("not found")
	// ErrForbidden means the principal is a member but its role, or its
	// token's scope, lacks the permission (HTTP 403).
	ErrForbidden = errors.New("forbidden")
	// ErrUnknownPermission means a caller asked about a permission that is
	// not in the table: a programming error, never a user's.
	ErrUnknownPermission = errors.New("unknown permission")
	// ErrInvalid means a role, scope or permission name from input is not
	// one this package knows.
	ErrInvalid = errors.New("invalid")
)
