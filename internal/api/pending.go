package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/berthdev/berth/internal/identity/oidclogin"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// SSO state between requests lives in the store (sso_pending), so a login
// started on one server finishes on any other on the same database. Each
// entry is keyed by the sha256 of a random value the browser (a cookie)
// or the CLI (the one-time code) holds, and taken out once: the store
// deletes and returns it in one statement. The table holds what the next
// step needs and nothing more: the login's state, nonce and PKCE verifier
// (the verifier is the one real secret; state and nonce travel through
// the browser anyway), the CLI's loopback URL, state and challenge, and a
// code's user. Backups leave the table out (snapshot.ServerState).
//
// Expired entries are pruned by each new entry's insert rather than by
// the leader: only inserts grow the table, so it stays bounded by what is
// in flight without any server having to lead.
const (
	pendingTTL  = 10 * time.Minute
	cliCodeTTL  = 2 * time.Minute
	maxPendings = 10_000
)

type ssoPending struct {
	Login oidclogin.Pending `json:"login"`
	// CLIRedirect, CLIChallenge and CLIState are set when the CLI started
	// the login: the browser is sent back to the CLI's loopback listener
	// with a one-time code, redeemed with the PKCE verifier.
	CLIRedirect  string `json:"cli_redirect,omitempty"`
	CLIChallenge string `json:"cli_challenge,omitempty"`
	CLIState     string `json:"cli_state,omitempty"`
}

type cliCode struct {
	User      string `json:"user"`
	Challenge string `json:"challenge"`
}

// tooManyLogins answers a new login when the cap of logins in flight is
// reached: a flood of started logins cannot grow the table without bound.
func tooManyLogins() *httpError {
	return newError(http.StatusServiceUnavailable, api.CodeUnavailable, "too many logins in progress; try again in a few minutes")
}

// putPending stores v of kind under key (a hash) for ttl.
func (s *server) putPending(ctx context.Context, kind, key string, v any, ttl time.Duration) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", kind, err)
	}
	now := s.Now().UTC()
	err = s.Store.PutSSOPending(ctx, store.SSOPending{Key: key, Kind: kind, Data: data, CreatedAt: now, ExpiresAt: now.Add(ttl)}, maxPendings)
	if errors.Is(err, store.ErrFull) {
		return tooManyLogins()
	}
	if err != nil {
		return fmt.Errorf("store %s: %w", kind, err)
	}
	return nil
}

// takePending takes the entry of kind under key into v; false when there
// is none (unknown, used, or expired).
func (s *server) takePending(ctx context.Context, kind, key string, v any) (bool, error) {
	p, err := s.Store.TakeSSOPending(ctx, kind, key, s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take %s: %w", kind, err)
	}
	if err := json.Unmarshal(p.Data, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", kind, err)
	}
	return true, nil
}
