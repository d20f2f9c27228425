package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/pkg/api"
)

func TestTokenRevocationExpiryAndScope(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	team := ts.createTeam(t, "shop")
	u := ts.addUser(t, "dev@example.com", map[string]rbac.Role{team.ID: rbac.RoleOwner})
	admin, _ := ts.personalToken(t, u.ID, rbac.ScopeAdmin)

	t.Run("revoked on the next call", func(t *testing.T) {
		var tok api.Token
		ts.mustAs(t, admin, http.StatusCreated, http.MethodPost, "/api/v1/tokens", api.CreateTokenRequest{Name: "ci", Scope: "deploy"}, &tok)
		if !strings.HasPrefix(tok.Token, "berth_pat_") || tok.Display != "berth_pat_…"+tok.Token[len(tok.Token)-4:] {
			t.Fatalf("created %+v", tok)
		}
		ts.mustAs(t, tok.Token, http.StatusOK, http.MethodGet, "/api/v1/apps", nil, nil)
		ts.mustAs(t, admin, http.StatusNoContent, http.MethodDelete, "/api/v1/tokens/"+tok.ID, nil, nil)
		if status, b := ts.callAs(t, tok.Token, http.MethodGet, "/api/v1/apps", nil); status != http.StatusUnauthorized {
			t.Fatalf("revoked token: %d %s", status, b)
		}
		var list []api.Token
		ts.mustAs(t, admin, http.StatusOK, http.MethodGet, "/api/v1/tokens", nil, &list)
		found := false
		for _, x := range list {
			if x.Token != "" {
				t.Errorf("list shows a token: %+v", x)
			}
			if x.ID == tok.ID {
				found = !x.RevokedAt.IsZero() && !x.LastUsedAt.IsZero()
			}
		}
		if !found {
			t.Errorf("list lacks the revoked token with its last use: %+v", list)
		}
	})
	t.Run("expired", func(t *testing.T) {
		var tok api.Token
		ts.mustAs(t, admin, http.StatusCreated, http.MethodPost, "/api/v1/tokens", api.CreateTokenRequest{Name: "short", Scope: "read", ExpiresIn: "1h"}, &tok)
		ts.mustAs(t, tok.Token, http.StatusOK, http.MethodGet, "/api/v1/apps", nil, nil)
		ts.clock.mu.Lock()
		ts.clock.now = ts.clock.now.Add(time.Hour)
		ts.clock.mu.Unlock()
		if status, b := ts.callAs(t, tok.Token, http.MethodGet, "/api/v1/apps", nil); status != http.StatusUnauthorized {
			t.Fatalf("expired token: %d %s", status, b)
		}
	})
	t.Run("scope narrows the role", func(t *testing.T) {
		read, _ := ts.personalToken(t, u.ID, rbac.ScopeRead)
		deploy, _ := ts.personalToken(t, u.ID, rbac.ScopeDeploy)
		status, b := ts.callAs(t, read, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: specV1, Team: "shop"})
		if status != http.StatusForbidden {
			t.Fatalf("read token applies: %d %s", status, b)
		}
		ts.mustAs(t, deploy, http.StatusOK, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: specV1, Team: "shop"}, nil)
		status, b = ts.callAs(t, deploy, http.MethodDelete, "/api/v1/apps/shop", nil)
		if status != http.StatusForbidden || !strings.Contains(string(b), "scope") {
			t.Fatalf("deploy token deletes: %d %s", status, b)
		}
		// A token cannot mint a wider one.
		status, b = ts.callAs(t, read, http.MethodPost, "/api/v1/tokens", api.CreateTokenRequest{Name: "x", Scope: "admin"})
		if status != http.StatusUnprocessableEntity || decodeError(t, b).Details[0].Field != "scope" {
			t.Fatalf("read token makes an admin one: %d %s", status, b)
		}
		ts.mustAs(t, admin, http.StatusAccepted, http.MethodDelete, "/api/v1/apps/shop", nil, nil)
	})
	t.Run("team token role at most the creator's", func(t *testing.T) {
		dev := ts.addUser(t, "d2@example.com", map[string]rbac.Role{team.ID: rbac.RoleAdmin})
		tok, _ := ts.personalToken(t, dev.ID, rbac.ScopeAdmin)
		status, b := ts.callAs(t, tok, http.MethodPost, "/api/v1/tokens", api.CreateTokenRequest{Name: "ci", Scope: "deploy", Team: "shop", Role: "owner"})
		if status != http.StatusUnprocessableEntity || decodeError(t, b).Details[0].Field != "role" {
			t.Fatalf("admin makes an owner team token: %d %s", status, b)
		}
		var tt api.Token
		ts.mustAs(t, tok, http.StatusCreated, http.MethodPost, "/api/v1/tokens", api.CreateTokenRequest{Name: "ci", Scope: "deploy", Team: "shop", Role: "developer"}, &tt)
		if !strings.HasPrefix(tt.Token, "berth_tt_") || tt.Team != "shop" || tt.Role != "developer" {
			t.Fatalf("team token %+v", tt)
		}
		var who api.Whoami
		ts.mustAs(t, tt.Token, http.StatusOK, http.MethodGet, "/api/v1/whoami", nil, &who)
		if who.Teams["shop"] != "developer" || who.Scope != "deploy" || who.User != "" {
			t.Fatalf("team token whoami %+v", who)
		}
	})
	t.Run("malformed and bootstrap-shaped tokens", func(t *testing.T) {
		for _, bad := range []string{"berth_pat_short", admin[:len(admin)-1] + "x", "berth_" + strings.Repeat("a", 52)} {
			if status, _ := ts.callAs(t, bad, http.MethodGet, "/api/v1/apps", nil); status != http.StatusUnauthorized {
				t.Errorf("token %q: %d", bad, status)
			}
		}
	})
}

func TestLoginBruteForceAnd429(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	u := ts.addUser(t, "ann@example.com", nil)
	u.PasswordHash = testPasswordHash(t, "the right passphrase")
	if err := ts.db.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	try := func(pw string) *http.Response {
		resp := ts.do(t, http.MethodPost, "/api/v1/auth/login", api.LoginRequest{Email: "ANN@example.com", Password: pw}, nil)
		readAll(t, resp)
		resp.Body.Close()
		return resp
	}
	for i := 1; i <= 4; i++ {
		if resp := try("guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	resp := try("guess")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("fifth guess: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Locked out: even the right password waits, and costs no hashing.
	if resp := try("the right passphrase"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("right password during lockout: %d", resp.StatusCode)
	}
	// An unknown account answers like a wrong password.
	resp = ts.do(t, http.MethodPost, "/api/v1/auth/login", api.LoginRequest{Email: "nobody@example.com", Password: "whatever"}, nil)
	b := readAll(t, resp)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "email or password is wrong") {
		t.Fatalf("unknown account: %d %s", resp.StatusCode, b)
	}
	// After the lockout the right password works.
	ts.clock.mu.Lock()
	ts.clock.now = ts.clock.now.Add(2 * time.Minute)
	ts.clock.mu.Unlock()
	if resp := try("the right passphrase"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the lockout: %d", resp.StatusCode)
	}
}

func TestSessionCookieAndCSRF(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	team := ts.createTeam(t, "shop")
	u := ts.addUser(t, "ann@example.com", map[string]rbac.Role{team.ID: rbac.RoleDeveloper})
	u.PasswordHash = testPasswordHash(t, "the right passphrase")
	if err := ts.db.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	resp := ts.do(t, http.MethodPost, "/api/v1/auth/login", api.LoginRequest{Email: u.Email, Password: "the right passphrase"}, nil)
	readAll(t, resp)
	resp.Body.Close()
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
		t.Fatalf("session cookie %+v (plain HTTP: not Secure)", ck)
	}
	se, csrf := ts.sessionFor(t, u.ID)
	apply := api.ApplyRequest{Spec: specV1}
	cookie := SessionCookie + "=" + se
	r := ts.do(t, http.MethodPost, "/api/v1/apply", apply, map[string]string{"Cookie": cookie})
	b := readAll(t, r)
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden || !strings.Contains(string(b), CSRFHeader) {
		t.Fatalf("cookie without CSRF token: %d %s", r.StatusCode, b)
	}
	r = ts.do(t, http.MethodPost, "/api/v1/apply", apply, map[string]string{"Cookie": cookie, CSRFHeader: "wrong"})
	readAll(t, r)
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("cookie with a wrong CSRF token: %d", r.StatusCode)
	}
	r = ts.do(t, http.MethodPost, "/api/v1/apply", apply, map[string]string{"Cookie": cookie, CSRFHeader: csrf})
	b = readAll(t, r)
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("cookie with its CSRF token: %d %s", r.StatusCode, b)
	}
	// Reads need no CSRF token; logout ends the session.
	r = ts.do(t, http.MethodGet, "/api/v1/apps/shop", nil, map[string]string{"Cookie": cookie})
	readAll(t, r)
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("read with cookie: %d", r.StatusCode)
	}
	r = ts.do(t, http.MethodPost, "/api/v1/auth/logout", nil, map[string]string{"Cookie": cookie, CSRFHeader: csrf})
	readAll(t, r)
	r.Body.Close()
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	r = ts.do(t, http.MethodGet, "/api/v1/apps/shop", nil, map[string]string{"Cookie": cookie})
	readAll(t, r)
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", r.StatusCode)
	}
}
