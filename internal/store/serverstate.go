package store

import (
	"context"
	"encoding/json"
	"time"
)

// State the API servers share so that any replica on one database can
// answer any request: single sign-on logins in flight and failed password
// logins. It is the running servers' state, not the platform's: backups
// leave it out (it holds PKCE verifiers, and emails with client
// addresses), and a restored store starts without it.

// Kinds of SSOPending entries.
const (
	// SSOLogin is a login between /auth/oidc/start and its callback.
	SSOLogin = "login"
	// SSOCLICode is the one-time code a CLI login redeems with its PKCE
	// verifier.
	SSOCLICode = "cli_code"
)

// SSOPending is single sign-on state between two requests, which may
// reach different servers.
type SSOPending struct {
	// Key is the hex sha256 of the random value the browser or the CLI
	// holds; the value itself is never stored.
	Key  string
	Kind string // SSOLogin | SSOCLICode
	// Data is the API's own JSON for the entry.
	Data      json.RawMessage
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SSOPendings keeps SSO state in flight. Entries are taken once.
type SSOPendings interface {
	// PutSSOPending forgets every entry expired at p.CreatedAt, then
	// stores p unless limit entries of p.Kind are in flight (ErrFull).
	// ErrExists if the key is taken.
	PutSSOPending(ctx context.Context, p SSOPending, limit int) error
	// TakeSSOPending removes the entry of kind with key and returns it;
	// of concurrent takes only one gets it. ErrNotFound when there is
	// none, or when it had expired at now (it is removed all the same).
	TakeSSOPending(ctx context.Context, kind, key string, now time.Time) (SSOPending, error)
}

// LoginThrottle is what is remembered of the failed password logins of
// one account from one client (internal/identity/loginlimit decides).
type LoginThrottle struct {
	Account string // as loginlimit normalises it
	Client  string // loginlimit.ClientKey of the address
	// Failures are the failures inside the window, oldest first.
	Failures    []time.Time
	LockedUntil time.Time // zero: not locked
	Lockouts    int
	LastFailure time.Time
}

// LoginThrottles keeps failed-login records. A read-modify-write of one
// record is atomic when done inside InTx: every backend serialises write
// transactions (SQLite's one writer, PostgreSQL's advisory lock).
type LoginThrottles interface {
	// GetLoginThrottle reads the pair's record; ErrNotFound if none.
	GetLoginThrottle(ctx context.Context, account, client string) (LoginThrottle, error)
	// PutLoginThrottle creates or replaces the pair's record.
	PutLoginThrottle(ctx context.Context, t LoginThrottle) error
	// DeleteLoginThrottle forgets the pair (nothing to forget is no error).
	DeleteLoginThrottle(ctx context.Context, account, client string) error
	// PruneLoginThrottles forgets the pairs not locked out at now whose
	// last failure is before idleBefore, and returns how many.
	PruneLoginThrottles(ctx context.Context, now, idleBefore time.Time) (int, error)
}
