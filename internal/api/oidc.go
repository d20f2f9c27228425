package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/identity/oidclogin"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// SSO through the server: /auth/oidc/start sends the browser to the
// provider (authorization code + PKCE, state and nonce from oidclogin),
// keeping the pending login server-side under a random HttpOnly cookie;
// /auth/oidc/callback finishes it at the exact redirect URI, links or
// creates the user by (issuer, subject), refreshes the SSO team roles and
// starts a session. The CLI's `berth login --sso` adds its own PKCE pair:
// the callback hands its loopback listener a one-time code that only the
// holder of the verifier can turn into a token.

// ssoCookie carries the key of a pending login.
const ssoCookie = "berth_sso"

// cliLoginTTL is the lifetime of the token a CLI SSO login gets.
const cliLoginTTL = 30 * 24 * time.Hour

func ssoOff() *httpError {
	return notFound("single sign-on is not configured on this server; log in with a token or a password")
}

func (s *server) oidcStart(w http.ResponseWriter, r *http.Request) error {
	if s.OIDC == nil {
		return ssoOff()
	}
	q := r.URL.Query()
	var entry ssoPending
	if cb := q.Get("cli_redirect"); cb != "" {
		if err := loopbackURL(cb); err != nil {
			return invalidField("cli_redirect", "%v", err)
		}
		ch := q.Get("cli_challenge")
		if len(ch) != 43 {
			return invalidField("cli_challenge", "required with cli_redirect: base64url(sha256(verifier)), 43 characters")
		}
		entry.CLIRedirect, entry.CLIChallenge, entry.CLIState = cb, ch, q.Get("cli_state")
	}
	authURL, login := s.OIDC.Start(r.Context())
	entry.Login = login
	key := randomSecret()
	if err := s.putPending(r.Context(), store.SSOLogin, token.Hash(key), entry, pendingTTL); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: key, Path: "/api/v1/auth/oidc/", MaxAge: int(pendingTTL.Seconds()),
		HttpOnly: true, Secure: s.SecureCookies || r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, authURL, http.StatusFound)
	return nil
}

// loopbackURL accepts only http://127.0.0.1:PORT/..., http://[::1]:PORT/...
// or http://localhost:PORT/... (RFC 8252): the code must not travel to
// another machine.
func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Port() == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not http://127.0.0.1:PORT/PATH", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return fmt.Errorf("%q is not a loopback address", raw)
	}
	return nil
}

func (s *server) oidcCallback(w http.ResponseWriter, r *http.Request) error {
	if s.OIDC == nil {
		return ssoOff()
	}
	ctx := r.Context()
	setAuditObject(ctx, "sso")
	ck, err := r.Cookie(ssoCookie)
	if err != nil || ck.Value == "" {
		auditFrom(ctx).deny()
		return badRequest("no single sign-on login was started in this browser (or it expired); start again at /api/v1/auth/oidc/start")
	}
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: "", Path: "/api/v1/auth/oidc/", MaxAge: -1, HttpOnly: true,
		Secure: s.SecureCookies || r.TLS != nil, SameSite: http.SameSiteLaxMode})
	var entry ssoPending
	ok, err := s.takePending(ctx, store.SSOLogin, token.Hash(ck.Value), &entry)
	if err != nil {
		return err
	}
	if !ok {
		auditFrom(ctx).deny()
		return badRequest("the single sign-on login expired or was used already; start again")
	}
	scheme := "http"
	if r.TLS != nil || s.SecureCookies {
		scheme = "https"
	}
	callback := scheme + "://" + r.Host + r.URL.RequestURI()
	claims, err := s.OIDC.Finish(ctx, entry.Login, callback)
	if err != nil {
		auditFrom(ctx).deny()
		s.loggerFrom(ctx).Warn("SSO login refused", "err", err)
		return badRequest("single sign-on failed: %s", ssoReason(err))
	}
	u, err := s.ssoUser(ctx, claims)
	if err != nil {
		return err
	}
	if n := auditFrom(ctx); n != nil {
		n.actor, n.object = u.ID, "user/"+u.ID
	}
	if entry.CLIRedirect != "" {
		code := randomSecret()
		if err := s.putPending(ctx, store.SSOCLICode, token.Hash(code), cliCode{User: u.ID, Challenge: entry.CLIChallenge}, cliCodeTTL); err != nil {
			return err
		}
		dest := entry.CLIRedirect + "?" + url.Values{"code": {code}, "state": {entry.CLIState}}.Encode()
		http.Redirect(w, r, dest, http.StatusFound)
		return nil
	}
	resp, err := s.startSession(w, r, u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// ssoReason is what the browser is told: which check failed, not the
// provider's internals.
func ssoReason(err error) string {
	for _, e := range []error{oidclogin.ErrState, oidclogin.ErrRedirectMismatch, oidclogin.ErrPending, oidclogin.ErrProvider,
		oidclogin.ErrExchange, oidclogin.ErrIDToken, oidclogin.ErrNonce, oidclogin.ErrUserInfo} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "the provider's answer could not be checked"
}

// ssoUser finds the user of an SSO identity (creating it, or linking an
// account with the same verified email), and sets its SSO team roles from
// the provider's groups: roles granted by SSO before and not now are
// taken away; roles given by hand are only ever raised.
func (s *server) ssoUser(ctx context.Context, cl oidclogin.Claims) (store.User, error) {
	now := s.Now().UTC()
	var u store.User
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		var err error
		u, err = tx.GetUserByIdentity(ctx, cl.Issuer, cl.Subject)
		if errors.Is(err, store.ErrNotFound) {
			u, err = s.linkOrCreate(ctx, tx, cl, now)
		}
		if err != nil {
			return err
		}
		if u.Disabled {
			return newError(http.StatusForbidden, api.CodeForbidden, "this account is disabled")
		}
		return s.syncSSORoles(ctx, tx, u, cl)
	})
	return u, err
}

func (s *server) linkOrCreate(ctx context.Context, tx store.Tx, cl oidclogin.Claims, now time.Time) (store.User, error) {
	if cl.Email != "" && cl.EmailVerified {
		u, err := tx.GetUserByEmail(ctx, cl.Email)
		if err == nil && u.OIDCIssuer == "" {
			u.OIDCIssuer, u.OIDCSubject, u.UpdatedAt = cl.Issuer, cl.Subject, now
			return u, tx.UpdateUser(ctx, u)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.User{}, err
		}
	}
	email := cl.Email
	if email == "" || !cl.EmailVerified {
		// An unverified email is not claimed for the account: someone
		// else may own it. The identity still gets a unique address.
		host := cl.Issuer
		if iu, err := url.Parse(cl.Issuer); err == nil && iu.Host != "" {
			host = iu.Host
		}
		email = cl.Subject + "@sso." + strings.ReplaceAll(host, ":", ".")
	}
	name := cl.Name
	if name == "" {
		name = cl.Username
	}
	u := store.User{ID: newID("user"), Email: email, Name: name, OIDCIssuer: cl.Issuer, OIDCSubject: cl.Subject, CreatedAt: now, UpdatedAt: now}
	return u, tx.CreateUser(ctx, u)
}

func (s *server) syncSSORoles(ctx context.Context, tx store.Tx, u store.User, cl oidclogin.Claims) error {
	want := map[string]rbac.Role{}
	for name, role := range cl.Teams {
		t, err := tx.GetTeamByName(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			s.loggerFrom(ctx).Warn("SSO group maps to a team that does not exist", "team", name)
			continue
		}
		if err != nil {
			return err
		}
		want[t.ID] = role
	}
	have, err := tx.ListMemberships(ctx, u.ID)
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	for _, m := range have {
		role, granted := want[m.Team]
		switch {
		case m.Source == "sso" && !granted:
			if err := tx.DeleteMember(ctx, m.Team, u.ID); err != nil {
				return err
			}
		case granted && (m.Source == "sso" || role.AtLeast(rbac.Role(m.Role))):
			m.Role, m.Source = string(role), "sso"
			if err := tx.PutMember(ctx, m); err != nil {
				return err
			}
		}
		delete(want, m.Team)
	}
	for team, role := range want {
		if err := tx.PutMember(ctx, store.Member{Team: team, User: u.ID, Role: string(role), Source: "sso", CreatedAt: now}); err != nil {
			return err
		}
	}
	return nil
}

// cliExchange turns the one-time code of a CLI SSO login into a personal
// token, for the holder of the PKCE verifier only.
func (s *server) cliExchange(w http.ResponseWriter, r *http.Request) error {
	var req api.CLIExchangeRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	setAuditObject(r.Context(), "sso/cli")
	if req.Verifier == "" {
		auditFrom(r.Context()).deny()
		return invalidField("verifier", "required: the PKCE verifier the CLI kept")
	}
	var code cliCode
	ok, err := s.takePending(r.Context(), store.SSOCLICode, token.Hash(req.Code), &code)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(req.Verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	if !ok || subtle.ConstantTimeCompare([]byte(challenge), []byte(code.Challenge)) != 1 {
		auditFrom(r.Context()).deny()
		return badRequest("the login code is unknown, used, expired, or does not match the verifier; run berth login --sso again")
	}
	if n := auditFrom(r.Context()); n != nil {
		n.actor = code.User
	}
	now := s.Now().UTC()
	tok, st, err := token.New(token.KindPersonal, rbac.ScopeAdmin, now, cliLoginTTL)
	if err != nil {
		return fmt.Errorf("make token: %w", err)
	}
	row := store.Token{ID: newID("tok"), Name: "berth login --sso", Hash: st.Hash, Kind: string(token.KindPersonal), User: code.User,
		Scope: string(st.Scope), Last4: st.Last4, ExpiresAt: st.ExpiresAt, CreatedAt: now}
	setAuditObject(r.Context(), "token/"+row.ID)
	if err := s.inTx(r.Context(), func(tx store.Tx) error { return tx.CreateToken(r.Context(), row) }); err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	out := toAPIToken(row, nil)
	out.Token = tok
	writeJSON(w, http.StatusCreated, out)
	return nil
}
