package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Authentication: a request carries a bearer token (berth_pat_, berth_tt_,
// or the old bootstrap shape) or a console session cookie. Either way the
// result is a caller whose rbac.Principal is built from the user's
// memberships as they are now, so a role change or a removal takes effect
// on the next call.

// SessionCookie holds a console session; CSRFHeader must echo the CSRF
// token of that session on every mutating call made with it.
const (
	SessionCookie = "berth_session"
	CSRFHeader    = "X-CSRF-Token"
)

// touchEvery bounds how often a token's last-used time is written: at most
// once a minute per token, so authenticating stays a read.
const touchEvery = time.Minute

const ctxCaller ctxKey = 101

// caller is who made the request.
type caller struct {
	principal rbac.Principal
	user      store.User     // zero for team tokens and the old admin token
	token     *store.Token   // nil for sessions
	session   *store.Session // nil for tokens
}

// actor names the caller in audit records: the user, else the token.
func (c *caller) actor() string {
	switch {
	case c == nil:
		return "anonymous"
	case c.user.ID != "":
		return c.user.ID
	case c.token != nil:
		return c.token.ID
	}
	return "anonymous"
}

func callerFrom(ctx context.Context) *caller {
	c, _ := ctx.Value(ctxCaller).(*caller)
	return c
}

// authenticate lets a request through when it carries a valid token or
// session, with the caller in its context.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.identify(r)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) {
				s.writeError(w, r, err)
				return
			}
			s.loggerFrom(r.Context()).Warn("request not authenticated", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", he.body.Message)
			if a := auditFrom(r.Context()); a != nil {
				a.denied = true
			}
			if he.status == http.StatusUnauthorized {
				he = unauthorized() // one answer for every kind of bad credential
			}
			s.writeError(w, r, he)
			return
		}
		if a := auditFrom(r.Context()); a != nil {
			a.actor = c.actor()
		}
		logger := s.loggerFrom(r.Context()).With("actor", c.actor())
		ctx := context.WithValue(r.Context(), ctxLogger, logger)
		ctx = context.WithValue(ctx, ctxCaller, c)
		ctx = withPrincipal(ctx, c.principal)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// identify finds the caller; its *httpError says why not (the 401's reason
// goes to the log only).
func (s *server) identify(r *http.Request) (*caller, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := bearerToken(h)
		if !ok {
			return nil, reason401("malformed Authorization header")
		}
		return s.identifyToken(r.Context(), tok)
	}
	if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
		return s.identifySession(r, ck.Value)
	}
	return nil, reason401("no credentials")
}

func reason401(why string) *httpError {
	return newError(http.StatusUnauthorized, api.CodeUnauthorized, "%s", why)
}

func (s *server) identifyToken(ctx context.Context, presented string) (*caller, error) {
	_, perr := token.Parse(presented)
	legacy := perr != nil && strings.HasPrefix(presented, TokenPrefix) && !strings.HasPrefix(presented, token.PersonalPrefix) && !strings.HasPrefix(presented, token.TeamPrefix) && !strings.HasPrefix(presented, token.GatewayPrefix)
	if perr != nil && !legacy {
		return nil, reason401("malformed token: " + perr.Error())
	}
	row, err := s.Store.GetTokenByHash(ctx, token.Hash(presented))
	if errors.Is(err, store.ErrNotFound) {
		return nil, reason401("unknown token")
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	now := s.Now().UTC()
	switch {
	case legacy != (row.Kind == ""):
		return nil, reason401("token kind does not match its row")
	case !row.RevokedAt.IsZero():
		return nil, reason401("token " + row.ID + " was revoked")
	case !row.ExpiresAt.IsZero() && !now.Before(row.ExpiresAt):
		return nil, reason401("token " + row.ID + " expired")
	}
	if now.Sub(row.LastUsedAt) >= touchEvery {
		if err := s.Store.TouchToken(ctx, row.ID, now); err != nil {
			s.loggerFrom(ctx).Warn("record token use", "token_id", row.ID, "err", err)
		}
		row.LastUsedAt = now
	}
	c := &caller{token: &row, principal: rbac.Principal{Subject: row.ID, Scope: rbac.Scope(row.Scope)}}
	switch token.Kind(row.Kind) {
	case "":
		// The bootstrap token of data directories from before users: the
		// operator, unnarrowed.
		c.principal = rbac.Principal{Subject: row.ID, PlatformAdmin: true}
	case token.KindTeam:
		c.principal.Teams = map[string]rbac.Role{row.Team: rbac.Role(row.Role)}
	case token.KindGateway:
		// Its name is its environment; it is a member of no team. An
		// environment removed (and perhaps made again by another team)
		// takes its gateway's token with it, before the reconciler has
		// revoked it.
		e, err := s.Store.GetEnvironment(ctx, row.Name)
		if errors.Is(err, store.ErrNotFound) || (err == nil && e.Team != row.Team) {
			return nil, reason401("token " + row.ID + " belongs to an environment that is gone")
		}
		if err != nil {
			return nil, fmt.Errorf("look up token's environment: %w", err)
		}
		c.principal = rbac.Principal{Subject: row.ID, Scope: rbac.ScopeRead, GatewayEnv: row.Name}
	case token.KindPersonal:
		u, err := s.activeUser(ctx, row.User)
		if err != nil {
			return nil, err
		}
		if err := s.fillUser(ctx, c, u); err != nil {
			return nil, err
		}
	default:
		return nil, reason401("token of unknown kind")
	}
	return c, nil
}

func (s *server) identifySession(r *http.Request, value string) (*caller, error) {
	ctx := r.Context()
	se, err := s.Store.GetSessionByHash(ctx, token.Hash(value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, reason401("unknown session")
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	if !s.Now().Before(se.ExpiresAt) {
		return nil, reason401("session expired")
	}
	if mutating(r.Method) {
		got := token.Hash(r.Header.Get(CSRFHeader))
		if r.Header.Get(CSRFHeader) == "" || subtle.ConstantTimeCompare([]byte(got), []byte(se.CSRFHash)) != 1 {
			return nil, forbidden("a call made with a session cookie must send its CSRF token in the %s header (the csrf_token of the login answer)", CSRFHeader)
		}
	}
	u, err := s.activeUser(ctx, se.User)
	if err != nil {
		return nil, err
	}
	c := &caller{session: &se, principal: rbac.Principal{Subject: u.ID}}
	if err := s.fillUser(ctx, c, u); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *server) activeUser(ctx context.Context, id string) (store.User, error) {
	u, err := s.Store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, reason401("the token's user is gone")
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get user: %w", err)
	}
	if u.Disabled {
		return store.User{}, reason401("user " + u.ID + " is disabled")
	}
	return u, nil
}

// fillUser sets the caller's user and its teams from the memberships.
//
// A platform admin's memberships are not read: it holds every permission
// in every team whatever they say (rbac.Principal.Role), and one who made
// thousands of teams is an owner in each, so reading them on every request
// cost more than the request itself. Its principal has no Teams; what
// shows them reads them (memberTeams).
func (s *server) fillUser(ctx context.Context, c *caller, u store.User) error {
	c.user = u
	c.principal.Subject = u.ID
	c.principal.PlatformAdmin = u.PlatformAdmin
	if u.PlatformAdmin {
		c.principal.Teams = nil
		return nil
	}
	teams, err := s.memberships(ctx, u.ID)
	if err != nil {
		return err
	}
	c.principal.Teams = teams
	return nil
}

// memberTeams is the caller's role in each team it is a member of: its
// principal's Teams, or for a platform admin user (whose principal
// leaves them out) its memberships.
func (s *server) memberTeams(ctx context.Context, c *caller) (map[string]rbac.Role, error) {
	if c.principal.PlatformAdmin && c.user.ID != "" {
		return s.memberships(ctx, c.user.ID)
	}
	return c.principal.Teams, nil
}

func (s *server) memberships(ctx context.Context, user string) (map[string]rbac.Role, error) {
	ms, err := s.Store.ListMemberships(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("memberships of %s: %w", user, err)
	}
	teams := make(map[string]rbac.Role, len(ms))
	for _, m := range ms {
		teams[m.Team] = rbac.Role(m.Role)
	}
	return teams, nil
}

func mutating(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// recheck identifies the request's caller again from the store, for long
// streams: a token revoked or expired, a session ended or a user disabled
// since the stream opened is an error; otherwise the caller with its
// memberships as they are now.
func (s *server) recheck(ctx context.Context) (*caller, error) {
	c := callerFrom(ctx)
	if c == nil {
		return nil, reason401("no caller")
	}
	now := s.Now()
	out := &caller{principal: c.principal}
	switch {
	case c.token != nil:
		t, err := s.Store.GetToken(ctx, c.token.ID)
		if err != nil {
			return nil, fmt.Errorf("token %s: %w", c.token.ID, err)
		}
		if !t.RevokedAt.IsZero() || (!t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)) {
			return nil, reason401("token " + t.ID + " was revoked or expired")
		}
		out.token = &t
	case c.session != nil:
		se, err := s.Store.GetSessionByHash(ctx, c.session.Hash)
		if err != nil {
			return nil, fmt.Errorf("session: %w", err)
		}
		if !now.Before(se.ExpiresAt) {
			return nil, reason401("session expired")
		}
		out.session = &se
	}
	if c.user.ID != "" {
		u, err := s.activeUser(ctx, c.user.ID)
		if err != nil {
			return nil, err
		}
		if err := s.fillUser(ctx, out, u); err != nil {
			return nil, err
		}
	}
	return out, nil
}
