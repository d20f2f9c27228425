package clusterroute

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
)

// An environment's gateway reads the control plane with a token of kind
// gateway: its name is the environment's, its team the environment's,
// and the API lets it read that environment's route feed and nothing
// else. Only this reconciler makes them; the token itself is kept only
// in the gateway's Secret in the cluster (the store has its hash).

// tokenValid says whether tok is a live gateway token of env.
func (r *Reconciler) tokenValid(ctx context.Context, env store.Environment, tok string) (bool, error) {
	if tok == "" {
		return false, nil
	}
	if _, err := token.Parse(tok); err != nil {
		return false, nil
	}
	row, err := r.opts.Store.GetTokenByHash(ctx, token.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("gateway token of environment %s: %w", env.Name, err)
	}
	return live(row, env), nil
}

func live(row store.Token, env store.Environment) bool {
	return row.Kind == string(token.KindGateway) && row.Name == env.Name && row.Team == env.Team && row.RevokedAt.IsZero()
}

// issueToken makes a new gateway token for env and revokes the ones it
// replaces.
func (r *Reconciler) issueToken(ctx context.Context, env store.Environment) (string, error) {
	now := r.now()
	tok, st, err := token.New(token.KindGateway, rbac.ScopeRead, now, 0)
	if err != nil {
		return "", err
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	row := store.Token{ID: "tok_" + hex.EncodeToString(b), Name: env.Name, Kind: string(st.Kind), Team: env.Team,
		Scope: string(st.Scope), Hash: st.Hash, Last4: st.Last4, CreatedAt: now}
	if err := r.opts.Store.CreateToken(ctx, row); err != nil {
		return "", fmt.Errorf("gateway token of environment %s: %w", env.Name, err)
	}
	if err := r.revokeTokens(ctx, func(t store.Token) bool { return t.Name == env.Name && t.ID != row.ID }); err != nil {
		return "", err
	}
	r.log.Info("issued the gateway token of an environment", "env", env.Name, "token_id", row.ID)
	return tok, nil
}

// revokeTokens revokes the live gateway tokens that match.
func (r *Reconciler) revokeTokens(ctx context.Context, match func(store.Token) bool) error {
	ts, err := r.opts.Store.ListTokens(ctx)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	for _, t := range ts {
		if t.Kind != string(token.KindGateway) || !t.RevokedAt.IsZero() || !match(t) {
			continue
		}
		if err := r.opts.Store.RevokeToken(ctx, t.ID, r.now()); err != nil {
			return fmt.Errorf("revoke gateway token %s: %w", t.ID, err)
		}
		r.log.Info("revoked a gateway token", "env", t.Name, "token_id", t.ID)
	}
	return nil
}
