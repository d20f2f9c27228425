package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/oidclogin"
	"github.com/berthdev/berth/internal/identity/oidctest"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// SSO through the server's own endpoints, against zitadel/oidc's example
// OpenID provider running in process on loopback (its user
// "test-user@<host>" has the password "verysecure"). The browser is
// net/http with a cookie jar.

type ssoEnv struct {
	ts     *testServer
	issuer string
	cb     string // the registered redirect URI: Berth's callback
}

// startSSO runs the provider and wires it into a test server.
func startSSO(t *testing.T) *ssoEnv {
	t.Helper()
	ts := newTestServer(t)
	cb := ts.URL + "/api/v1/auth/oidc/callback"
	// The localhost spelling of the same callback is registered too, so
	// the provider would send codes there: Berth must refuse them itself.
	alt := strings.Replace(cb, "127.0.0.1", "localhost", 1)
	issuer := oidctest.Start(t, []string{"shop-devs", "platform", "unmapped"}, cb, alt).Issuer

	ts.createTeam(t, "shop")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := oidclogin.New(ctx, oidclogin.Config{
		Issuer: issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret, RedirectURL: cb,
		GroupRoles: []oidclogin.GroupRole{
			{Group: "shop-devs", Team: "shop", Role: "developer"},
			{Group: "platform", Team: "shop", Role: "admin"},
			{Group: "platform", Team: "no-such-team", Role: "owner"},
		},
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.OIDC = c // read by handlers at request time; no request has run yet
	return &ssoEnv{ts: ts, issuer: issuer, cb: cb}
}

// browser is a cookie-keeping client that stops before following a
// redirect to stopAt (a URL prefix), returning that URL.
type browser struct {
	*http.Client
	stopAt  string
	stopped string
}

func newBrowser(stopAt string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{stopAt: stopAt}
	b.Client = &http.Client{Jar: jar, Timeout: 5 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if b.stopAt != "" && strings.HasPrefix(req.URL.String(), b.stopAt) {
			b.stopped = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// signIn signs in at the provider from start.
func (e *ssoEnv) signIn(t *testing.T, b *browser, start string) (*http.Response, []byte) {
	t.Helper()
	return (&oidctest.Provider{Issuer: e.issuer}).SignIn(t, b.Client, start)
}

func sessionCookieOf(resp *http.Response) string {
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			return c.Value
		}
	}
	return ""
}

func TestSSOLoginThroughServer(t *testing.T) {
	t.Parallel()
	e := startSSO(t)
	start := e.ts.URL + "/api/v1/auth/oidc/start"

	resp, body := e.signIn(t, newBrowser(""), start)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SSO login: %s %s", resp.Status, body)
	}
	var lr api.LoginResponse
	if err := json.Unmarshal(body, &lr); err != nil {
		t.Fatal(err)
	}
	se := sessionCookieOf(resp)
	if se == "" || lr.CSRFToken == "" || !lr.User.SSO {
		t.Fatalf("login answer %s, session %q", body, se)
	}
	who := e.whoami(t, se)
	// shop-devs gives developer, platform gives admin: the higher wins;
	// the group mapped to a missing team grants nothing.
	if who.Teams["shop"] != "admin" || len(who.Teams) != 1 {
		t.Fatalf("teams from groups: %+v", who)
	}
	// A second login finds the same user by (issuer, subject).
	resp, _ = e.signIn(t, newBrowser(""), start)
	if w2 := e.whoami(t, sessionCookieOf(resp)); w2.User != who.User {
		t.Fatalf("second login made another user: %s vs %s", w2.User, who.User)
	}
}

func (e *ssoEnv) whoami(t *testing.T, session string) api.Whoami {
	t.Helper()
	r := e.ts.do(t, http.MethodGet, "/api/v1/whoami", nil, map[string]string{"Cookie": SessionCookie + "=" + session})
	defer r.Body.Close()
	b := readAll(t, r)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("whoami with the SSO session: %d %s", r.StatusCode, b)
	}
	var w api.Whoami
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// callback finishes a login at url with the browser's cookies plus
// pending (the value of the pending-login cookie, "" for none).
func (e *ssoEnv) callback(t *testing.T, rawURL, pending string) (int, []byte) {
	t.Helper()
	h := map[string]string{}
	if pending != "" {
		h["Cookie"] = ssoCookie + "=" + pending
	}
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, readAll(t, resp)
}

// stoppedLogin signs in and stops before the callback, returning its URL
// and the pending-login cookie's value.
func (e *ssoEnv) stoppedLogin(t *testing.T) (string, string) {
	t.Helper()
	b := newBrowser(e.cb)
	e.signIn(t, b, e.ts.URL+"/api/v1/auth/oidc/start")
	if b.stopped == "" {
		t.Fatal("the login did not reach the callback")
	}
	u, _ := url.Parse(e.ts.URL + "/api/v1/auth/oidc/")
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == ssoCookie {
			return b.stopped, c.Value
		}
	}
	t.Fatal("no pending-login cookie")
	return "", ""
}

func TestSSORefusals(t *testing.T) {
	t.Parallel()
	e := startSSO(t)
	tests := []struct {
		desc   string
		change func(t *testing.T, cb, pending string) (string, string)
		want   string
	}{
		{desc: "bad state", want: oidclogin.ErrState.Error(), change: func(t *testing.T, cb, pending string) (string, string) {
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Set("state", "forged")
			u.RawQuery = q.Encode()
			return u.String(), pending
		}},
		{desc: "missing PKCE verifier", want: oidclogin.ErrPending.Error(), change: func(t *testing.T, cb, pending string) (string, string) {
			// The server-side pending login loses its verifier: the code
			// must not be redeemed without it.
			ctx, now := t.Context(), e.ts.clock.Now()
			row, err := e.ts.db.TakeSSOPending(ctx, store.SSOLogin, token.Hash(pending), now)
			if err != nil {
				t.Fatal(err)
			}
			var v ssoPending
			if err := json.Unmarshal(row.Data, &v); err != nil {
				t.Fatal(err)
			}
			v.Login.Verifier = ""
			if row.Data, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
			if err := e.ts.db.PutSSOPending(ctx, row, maxPendings); err != nil {
				t.Fatal(err)
			}
			return cb, pending
		}},
		{desc: "changed redirect URI", want: oidclogin.ErrRedirectMismatch.Error(), change: func(t *testing.T, cb, pending string) (string, string) {
			return strings.Replace(cb, "127.0.0.1", "localhost", 1), pending
		}},
		{desc: "no pending login in this browser", want: "no single sign-on login was started", change: func(t *testing.T, cb, pending string) (string, string) {
			return cb, ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			cb, pending := e.stoppedLogin(t)
			cb, pending = tc.change(t, cb, pending)
			status, body := e.callback(t, cb, pending)
			if status != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
				t.Fatalf("%d %s, want 400 with %q", status, body, tc.want)
			}
			if strings.Contains(string(body), "csrf_token") {
				t.Fatal("a refused login started a session")
			}
		})
	}
	t.Run("a pending login is used once", func(t *testing.T) {
		cb, pending := e.stoppedLogin(t)
		if status, body := e.callback(t, cb, pending); status != http.StatusOK {
			t.Fatalf("genuine callback: %d %s", status, body)
		}
		if status, _ := e.callback(t, cb, pending); status != http.StatusBadRequest {
			t.Fatalf("replayed callback: %d", status)
		}
	})
}

func TestSSOForTheCLI(t *testing.T) {
	t.Parallel()
	e := startSSO(t)
	codes := make(chan url.Values, 4)
	cli := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes <- r.URL.Query()
		io.WriteString(w, "you may close this window")
	}))
	t.Cleanup(cli.Close)
	verifier := "a-verifier-of-enough-length-0123456789-abcdefghijk"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	start := e.ts.URL + "/api/v1/auth/oidc/start?" + url.Values{
		"cli_redirect": {cli.URL + "/callback"}, "cli_challenge": {challenge}, "cli_state": {"s1"}}.Encode()

	login := func() url.Values {
		resp, body := e.signIn(t, newBrowser(""), start)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("CLI SSO: %s %s", resp.Status, body)
		}
		select {
		case q := <-codes:
			return q
		default:
			t.Fatal("the CLI listener got nothing")
			return nil
		}
	}
	q := login()
	if q.Get("state") != "s1" || q.Get("code") == "" {
		t.Fatalf("CLI callback query %v", q)
	}
	exchange := func(code, v string) (int, []byte) {
		return e.ts.callAs(t, "", http.MethodPost, "/api/v1/auth/cli/exchange", api.CLIExchangeRequest{Code: code, Verifier: v})
	}
	if status, _ := exchange(q.Get("code"), ""); status != http.StatusUnprocessableEntity {
		t.Fatalf("exchange without verifier: %d", status)
	}
	if status, _ := exchange(q.Get("code"), "wrong-verifier"); status != http.StatusBadRequest {
		t.Fatalf("exchange with a wrong verifier: %d", status)
	}
	// A wrong verifier burns the code: a thief gets one try.
	if status, _ := exchange(q.Get("code"), verifier); status != http.StatusBadRequest {
		t.Fatalf("exchange of a burnt code: %d", status)
	}
	q = login()
	status, b := exchange(q.Get("code"), verifier)
	if status != http.StatusCreated {
		t.Fatalf("exchange: %d %s", status, b)
	}
	var tok api.Token
	if err := json.Unmarshal(b, &tok); err != nil {
		t.Fatal(err)
	}
	var who api.Whoami
	e.ts.mustAs(t, tok.Token, http.StatusOK, http.MethodGet, "/api/v1/whoami", nil, &who)
	if who.Teams["shop"] != "admin" || tok.ExpiresAt.IsZero() {
		t.Fatalf("CLI token %+v acts as %+v", tok, who)
	}
	if status, _ := exchange(q.Get("code"), verifier); status != http.StatusBadRequest {
		t.Fatalf("code reused: %d", status)
	}
	// The code goes only to a loopback listener.
	r := e.ts.do(t, http.MethodGet, "/api/v1/auth/oidc/start?cli_redirect="+url.QueryEscape("http://evil.example:80/cb")+"&cli_challenge="+challenge, nil, nil)
	readAll(t, r)
	r.Body.Close()
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("non-loopback cli_redirect: %d", r.StatusCode)
	}
}
