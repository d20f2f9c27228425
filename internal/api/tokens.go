package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// maxTokenTTL bounds expires_in; tokens without one never expire.
const maxTokenTTL = 366 * 24 * time.Hour

func toAPIToken(t store.Token, teams map[string]string) api.Token {
	kind := "personal"
	if t.Kind == string(token.KindTeam) {
		kind = "team"
	}
	st := token.Stored{Kind: token.Kind(t.Kind), Last4: t.Last4}
	display := st.Display()
	if t.Kind == "" {
		kind, display = "bootstrap", TokenPrefix+"…"
	}
	return api.Token{ID: t.ID, Name: t.Name, Kind: kind, Display: display, Team: teams[t.Team], Role: t.Role,
		Scope: t.Scope, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt, CreatedAt: t.CreatedAt}
}

// listTokens shows the caller's personal tokens and the team tokens of
// the teams where it manages tokens; never a token itself.
func (s *server) listTokens(w http.ResponseWriter, r *http.Request) error {
	c := callerFrom(r.Context())
	all, err := s.Store.ListTokens(r.Context())
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	teams := make([]string, 0, len(all))
	for _, t := range all {
		if t.Kind == string(token.KindTeam) {
			teams = append(teams, t.Team)
		}
	}
	manage, names, err := s.teamsAmong(r.Context(), rbac.TokensManage, teams)
	if err != nil {
		return err
	}
	all = slices.DeleteFunc(all, func(t store.Token) bool {
		mine := t.Kind == string(token.KindPersonal) && c.user.ID != "" && t.User == c.user.ID
		team := t.Kind == string(token.KindTeam) && manage[t.Team]
		return !mine && !team
	})
	out := make([]api.Token, 0, len(all))
	for _, t := range all {
		out = append(out, toAPIToken(t, names))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createToken makes a personal token (no team) or a team token. Neither
// may be wider than its maker: a token's scope is at most the calling
// token's, a team token's role at most the caller's role there.
func (s *server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateTokenRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	c := callerFrom(r.Context())
	scope, err := rbac.ParseScope("scope", req.Scope)
	if err != nil {
		return invalidField("scope", "%q is not a scope; want one of %v", req.Scope, rbac.AllScopes())
	}
	if c.principal.Scope != "" && !c.principal.Scope.Includes(scope) {
		return invalidField("scope", "a %s-scoped token may not make a %s-scoped one", c.principal.Scope, scope)
	}
	if req.Name == "" {
		return invalidField("name", "required: say what the token is for (e.g. \"ci-shop\")")
	}
	var ttl time.Duration
	if req.ExpiresIn != "" {
		if ttl, err = time.ParseDuration(req.ExpiresIn); err != nil || ttl <= 0 || ttl > maxTokenTTL {
			return invalidField("expires_in", "%q is not a duration between 1s and %v (e.g. \"720h\")", req.ExpiresIn, maxTokenTTL)
		}
	}
	now := s.Now().UTC()
	row := store.Token{ID: newID("tok"), Name: req.Name, User: c.user.ID, Scope: string(scope), CreatedAt: now}
	kind := token.KindPersonal
	if req.Team == "" {
		if req.Role != "" {
			return invalidField("role", "only team tokens have a role; a personal token acts with your roles")
		}
		if c.user.ID == "" {
			return invalidField("team", "required: a team token cannot make personal tokens")
		}
	} else {
		t, err := s.loadTeam(r.Context(), req.Team, rbac.TokensManage)
		if err != nil {
			return err
		}
		role, err := rbac.ParseRole("role", req.Role)
		if err != nil {
			return invalidField("role", "%q is not a role; want one of %v", req.Role, rbac.AllRoles())
		}
		if err := grantable(r.Context(), t.ID, "role", role); err != nil {
			return err
		}
		kind, row.Team, row.Role = token.KindTeam, t.ID, string(role)
	}
	tok, st, err := token.New(kind, scope, now, ttl)
	if err != nil {
		return fmt.Errorf("make token: %w", err)
	}
	row.Kind, row.Hash, row.Last4, row.ExpiresAt = string(kind), st.Hash, st.Last4, st.ExpiresAt
	setAuditObject(r.Context(), "token/"+row.ID)
	setAuditDetail(r.Context(), "scope", row.Scope)
	if err := s.inTx(r.Context(), func(tx store.Tx) error { return tx.CreateToken(r.Context(), row) }); err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	names, err := s.teamNamesOf(r.Context(), row.Team)
	if err != nil {
		return err
	}
	out := toAPIToken(row, names)
	out.Token = tok
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// revokeToken ends a token at once: the next call with it is refused.
// Callers may revoke their own personal tokens and the team tokens of
// teams where they manage tokens; other tokens answer 404.
func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("token")
	setAuditObject(r.Context(), "token/"+id)
	missing := notFound("token %q not found", id)
	t, err := s.Store.GetToken(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return missing
	}
	if err != nil {
		return fmt.Errorf("get token: %w", err)
	}
	c := callerFrom(r.Context())
	switch {
	case t.Kind == string(token.KindTeam):
		if err := s.authorize(r.Context(), t.Team, rbac.TokensManage, missing); err != nil {
			return err
		}
	case c.user.ID != "" && t.User == c.user.ID:
	default:
		if err := s.platformAdmin(r.Context(), rbac.TokensManage, missing); err != nil {
			return err
		}
	}
	if err := s.inTx(r.Context(), func(tx store.Tx) error { return tx.RevokeToken(r.Context(), id, s.Now().UTC()) }); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	s.revocations.Poke()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
