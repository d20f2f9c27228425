package api

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/berthdev/berth/internal/identity/loginlimit"
	"github.com/berthdev/berth/internal/identity/password"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

const defaultSessionTTL = 12 * time.Hour

// randomSecret is 32 random bytes as base64url: session cookies, CSRF
// tokens, invitation codes. Only its sha256 is stored.
func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// clientIP is the peer address without its port. Forwarded headers are
// not trusted: anyone can send them.
func clientIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func loginFailed() *httpError {
	// One message for an unknown account, a wrong password and an account
	// without a password, so the answer does not say which accounts exist.
	return newError(http.StatusUnauthorized, api.CodeUnauthorized, "email or password is wrong")
}

// login checks a password and starts a console session: an HttpOnly
// cookie, and a CSRF token for the X-CSRF-Token header.
func (s *server) login(w http.ResponseWriter, r *http.Request) error {
	var req api.LoginRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Email == "" {
		return invalidField("email", "required")
	}
	setAuditObject(r.Context(), "user/"+req.Email)
	ip := clientIP(r)
	now := s.Now()
	wait, ok, err := s.logins.check(r.Context(), req.Email, ip, now)
	if err != nil {
		return err
	}
	if !ok {
		auditFrom(r.Context()).deny()
		w.Header().Set("Retry-After", loginlimit.RetryAfter(wait))
		return newError(http.StatusTooManyRequests, api.CodeTooManyRequests,
			"too many failed logins for %s from this address; try again in %s", req.Email, loginlimit.RetryAfter(wait)+"s")
	}
	u, err := s.Store.GetUserByEmail(r.Context(), req.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("get user: %w", err)
	}
	ok = false
	if err == nil && u.PasswordHash != "" && !u.Disabled {
		ok, err = password.Verify(req.Password, u.PasswordHash)
		if err != nil {
			s.loggerFrom(r.Context()).Error("stored password hash unreadable", "user", u.ID, "err", err)
			ok = false
		}
	} else {
		password.DummyVerify(req.Password, password.DefaultParams)
	}
	if !ok {
		auditFrom(r.Context()).deny()
		wait, err := s.logins.fail(r.Context(), req.Email, ip, now)
		if err != nil {
			return err
		}
		if wait > 0 {
			w.Header().Set("Retry-After", loginlimit.RetryAfter(wait))
			return newError(http.StatusTooManyRequests, api.CodeTooManyRequests,
				"too many failed logins for %s from this address; try again in %ss", req.Email, loginlimit.RetryAfter(wait))
		}
		return loginFailed()
	}
	if err := s.logins.succeed(r.Context(), req.Email, ip); err != nil {
		return err
	}
	if n := auditFrom(r.Context()); n != nil {
		n.actor = u.ID
	}
	if password.NeedsRehash(u.PasswordHash, password.DefaultParams) {
		if h, err := password.Hash("password", req.Password, password.DefaultParams); err == nil {
			u.PasswordHash, u.UpdatedAt = h, now.UTC()
			if err := s.Store.UpdateUser(r.Context(), u); err != nil {
				s.loggerFrom(r.Context()).Warn("rehash password", "user", u.ID, "err", err)
			}
		}
	}
	resp, err := s.startSession(w, r, u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// startSession stores a new session for u and sets its cookie.
func (s *server) startSession(w http.ResponseWriter, r *http.Request, u store.User) (api.LoginResponse, error) {
	now := s.Now().UTC()
	value, csrf := randomSecret(), randomSecret()
	se := store.Session{ID: newID("ses"), Hash: token.Hash(value), CSRFHash: token.Hash(csrf), User: u.ID,
		CreatedAt: now, ExpiresAt: now.Add(s.SessionTTL)}
	if err := s.inTx(r.Context(), func(tx store.Tx) error { return tx.CreateSession(r.Context(), se) }); err != nil {
		return api.LoginResponse{}, fmt.Errorf("create session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", Expires: se.ExpiresAt,
		HttpOnly: true, Secure: s.SecureCookies || r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
	return api.LoginResponse{User: toAPIUser(u), CSRFToken: csrf, ExpiresAt: se.ExpiresAt}, nil
}

// logout ends the caller's session (a token caller has none to end).
func (s *server) logout(w http.ResponseWriter, r *http.Request) error {
	c := callerFrom(r.Context())
	if c == nil || c.session == nil {
		return invalidField("session", "this call was made with a token, not a session; revoke tokens with DELETE /api/v1/tokens/{id}")
	}
	err := s.inTx(r.Context(), func(tx store.Tx) error {
		if err := tx.DeleteSession(r.Context(), c.session.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.SecureCookies || r.TLS != nil, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) whoami(w http.ResponseWriter, r *http.Request) error {
	c := callerFrom(r.Context())
	teams, err := s.memberTeams(r.Context(), c)
	if err != nil {
		return err
	}
	names, err := s.teamNamesOf(r.Context(), slices.Collect(maps.Keys(teams))...)
	if err != nil {
		return err
	}
	out := api.Whoami{User: c.user.ID, Email: c.user.Email, Scope: string(c.principal.Scope),
		PlatformAdmin: c.principal.PlatformAdmin, Teams: map[string]string{}}
	if c.token != nil {
		out.Token = c.token.ID
	}
	for id, role := range teams {
		if n, ok := names[id]; ok {
			out.Teams[n] = string(role)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func toAPIUser(u store.User) api.User {
	return api.User{ID: u.ID, Email: u.Email, Name: u.Name, PlatformAdmin: u.PlatformAdmin,
		SSO: u.OIDCIssuer != "", Password: u.PasswordHash != "", Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}
