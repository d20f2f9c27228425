package oidclogin

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// The real provider: zitadel/oidc's example OpenID provider, in process on
// 127.0.0.1. Its users are "test-user@<issuer host>" and "test-user2",
// both with password "verysecure".
const (
	clientID     = "berth"
	clientSecret = "berth-client-secret"
	userPassword = "verysecure"
)

// groupStorage is the example storage plus a "groups" claim in ID tokens,
// which the example does not issue on its own. Everything else (login,
// codes, PKCE, signing) is the example's.
type groupStorage struct {
	*storage.Storage
	groups map[string][]string // by user ID
}

func (s *groupStorage) SetUserinfoFromRequest(ctx context.Context, ui *zoidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	if g, ok := s.groups[req.GetSubject()]; ok {
		ui.AppendClaims("groups", g)
	}
	return nil
}

// testOP is a running provider and the Berth callback endpoint it
// redirects to.
type testOP struct {
	issuer      string
	redirectURL string // registered
	otherURL    string // also registered, for the exchange-mismatch test
	callbacks   chan string
}

// startOP starts the callback server and the provider, both on loopback,
// stopped at the end of the test.
func startOP(t *testing.T) *testOP {
	t.Helper()
	o := &testOP{callbacks: make(chan string, 4)}

	// Berth's side: records the URL the browser arrives at.
	cbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cbSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.callbacks <- "http://" + r.Host + r.URL.RequestURI()
		io.WriteString(w, "ok")
	}), ReadHeaderTimeout: 5 * time.Second}
	go cbSrv.Serve(cbLn)
	t.Cleanup(func() { cbSrv.Close() })
	base := "http://" + cbLn.Addr().String()
	o.redirectURL = base + "/auth/callback"
	o.otherURL = base + "/auth/other"

	opLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.issuer = "http://" + opLn.Addr().String()
	users := storage.NewUserStore(o.issuer)
	clients := map[string]*storage.Client{
		clientID: storage.WebClient(clientID, clientSecret, o.redirectURL, o.otherURL),
	}
	st := &groupStorage{
		Storage: storage.NewStorageWithClients(users, clients),
		groups:  map[string][]string{"id1": {"platform-admins", "shop-devs", "unmapped"}},
	}
	// nil logger: SetupServer would otherwise replace the process-wide
	// default logger.
	router := exampleop.SetupServer(o.issuer, st, nil, false)
	opSrv := &http.Server{Handler: router, ReadHeaderTimeout: 5 * time.Second}
	go opSrv.Serve(opLn)
	t.Cleanup(func() { opSrv.Close() })
	return o
}

func (o *testOP) config() Config {
	return Config{
		Issuer:       o.issuer,
		ClientID:     clientID,
		ClientSecret: clientSecret,
		RedirectURL:  o.redirectURL,
		GroupRoles: []GroupRole{
			{Group: "shop-devs", Team: "shop", Role: "developer"},
			{Group: "platform-admins", Team: "shop", Role: "admin"},
			{Group: "platform-admins", Team: "infra", Role: "owner"},
			{Group: "blog-viewers", Team: "blog", Role: "viewer"},
		},
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	}
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var hiddenID = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]+)">`)

// browse plays the browser: opens authURL, follows redirects to the login
// form, posts the user's credentials, and follows redirects until the
// provider sends it to Berth's callback. It returns the callback URL.
func (o *testOP) browse(t *testing.T, authURL, username, password string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatalf("open auth URL: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := hiddenID.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("auth URL led to %s %s, not the login form: %.300s", resp.Request.URL, resp.Status, body)
	}
	form := url.Values{"id": {string(m[1])}, "username": {username}, "password": {password}}
	loginURL := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	resp, err = browser.PostForm(loginURL.String(), form)
	if err != nil {
		t.Fatalf("post login form: %v", err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	select {
	case cb := <-o.callbacks:
		return cb
	default:
		t.Fatalf("login did not reach the callback; ended at %s %s: %.300s", resp.Request.URL, resp.Status, body)
		return ""
	}
}

func (o *testOP) user1() string {
	u, _ := url.Parse(o.issuer)
	return "test-user@" + u.Hostname()
}

// login runs Start and the browser part, returning what Finish needs.
func login(t *testing.T, o *testOP, c *Client) (Pending, string) {
	t.Helper()
	authURL, p := c.Start(context.Background())
	return p, o.browse(t, authURL, o.user1(), userPassword)
}

func finish(c *Client, p Pending, cb string) (Claims, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Finish(ctx, p, cb)
}

func TestGoodLogin(t *testing.T) {
	t.Parallel()
	o := startOP(t)
	c := newClient(t, o.config())
	authURL, p := c.Start(context.Background())
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"client_id": clientID, "redirect_uri": o.redirectURL, "response_type": "code",
		"state": p.State, "nonce": p.Nonce, "code_challenge_method": "S256",
	} {
		if q.Get(k) != want {
			t.Errorf("auth URL %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("code_challenge") == "" || strings.Contains(authURL, p.Verifier) {
		t.Fatal("auth URL lacks the PKCE challenge or carries the verifier")
	}
	cb := o.browse(t, authURL, o.user1(), userPassword)
	cl, err := finish(c, p, cb)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if cl.Issuer != o.issuer || cl.Subject != "id1" {
		t.Fatalf("claims iss %q sub %q", cl.Issuer, cl.Subject)
	}
	if fmt.Sprint(cl.Groups) != "[platform-admins shop-devs unmapped]" {
		t.Fatalf("groups %v", cl.Groups)
	}
	// shop: developer and admin both granted, admin wins; blog: not a member.
	if fmt.Sprint(cl.Teams) != "map[infra:owner shop:admin]" {
		t.Fatalf("teams %v", cl.Teams)
	}
	if !cl.Expiry.After(time.Now()) {
		t.Fatalf("expiry %v", cl.Expiry)
	}
	// The code is single-use: replaying the callback fails at the provider.
	if _, err := finish(c, p, cb); !errorsIs(err, ErrExchange) {
		t.Fatalf("second Finish with the same code = %v, want ErrExchange", err)
	}
}

func TestUserInfo(t *testing.T) {
	t.Parallel()
	o := startOP(t)
	cfg := o.config()
	cfg.UserInfo = true
	c := newClient(t, cfg)
	p, cb := login(t, o, c)
	cl, err := finish(c, p, cb)
	if err != nil {
		t.Fatal(err)
	}
	// This provider leaves profile and email out of the ID token when it
	// issues an access token; they come from the UserInfo endpoint.
	if cl.Email != "test-user@zitadel.ch" || !cl.EmailVerified || cl.Username != o.user1() || cl.Name != "Test User" {
		t.Fatalf("claims %+v", cl)
	}
}

func TestBadStateRefused(t *testing.T) {
	t.Parallel()
	o := startOP(t)
	c := newClient(t, o.config())
	p, cb := login(t, o, c)
	forged := strings.Replace(cb, "state="+url.QueryEscape(p.State), "state=forged", 1)
	if forged == cb {
		t.Fatalf("callback %s has no state to replace", cb)
	}
	if _, err := finish(c, p, forged); !errorsIs(err, ErrState) {
		t.Fatalf("forged state: %v, want ErrState", err)
	}
	// A callback from another login (another Pending) is refused too.
	_, other := c.Start(context.Background())
	if _, err := finish(c, other, cb); !errorsIs(err, ErrState) {
		t.Fatalf("crossed pending: %v, want ErrState", err)
	}
	noState := strings.Replace(cb, "state=", "x=", 1)
	if _, err := finish(c, p, noState); !errorsIs(err, ErrState) {
		t.Fatalf("no state: %v, want ErrState", err)
	}
	// The refused callbacks did not burn the code: the real one still works.
	if _, err := finish(c, p, cb); err != nil {
		t.Fatalf("genuine callback after refused ones: %v", err)
	}
}

func TestPKCE(t *testing.T) {
	t.Parallel()
	o := startOP(t)
	c := newClient(t, o.config())

	t.Run("missing verifier refused before the provider", func(t *testing.T) {
		p, cb := login(t, o, c)
		noVerifier := p
		noVerifier.Verifier = ""
		if _, err := finish(c, noVerifier, cb); !errorsIs(err, ErrPending) {
			t.Fatalf("Finish without verifier: %v, want ErrPending", err)
		}
		// The provider itself refuses a code redeemed without the verifier:
		// PKCE is enforced there, not only here.
		ctx := context.WithValue(context.Background(), oauth2HTTPClient, c.cfg.HTTPClient)
		code := mustQuery(t, cb, "code")
		if _, err := c.oauth.Exchange(ctx, code); err == nil || !strings.Contains(err.Error(), "code_verifier") {
			t.Fatalf("provider exchange without verifier: %v, want a code_verifier error", err)
		}
	})
	t.Run("wrong verifier refused by the provider", func(t *testing.T) {
		p, cb := login(t, o, c)
		wrong := p
		_, other := c.Start(context.Background())
		wrong.Verifier = other.Verifier
		if _, err := finish(c, wrong, cb); !errorsIs(err, ErrExchange) || !strings.Contains(err.Error(), "code_verifier") {
			t.Fatalf("Finish with another login's verifier: %v, want ErrExchange (invalid code_verifier)", err)
		}
	})
}

func TestRedirectURI(t *testing.T) {
	t.Parallel()
	o := startOP(t)
	c := newClient(t, o.config())

	t.Run("callback at another path", func(t *testing.T) {
		p, cb := login(t, o, c)
		moved := strings.Replace(cb, "/auth/callback", "/auth/other", 1)
		if _, err := finish(c, p, moved); !errorsIs(err, ErrRedirectMismatch) {
			t.Fatalf("callback at /auth/other: %v, want ErrRedirectMismatch", err)
		}
		evil := strings.Replace(cb, "http://127.0.0.1", "http://evil.example", 1)
		if _, err := finish(c, p, evil); !errorsIs(err, ErrRedirectMismatch) {
			t.Fatalf("callback on another host: %v, want ErrRedirectMismatch", err)
		}
	})
	t.Run("pending for another redirect", func(t *testing.T) {
		p, cb := login(t, o, c)
		p.RedirectURL = o.otherURL
		if _, err := finish(c, p, cb); !errorsIs(err, ErrRedirectMismatch) {
			t.Fatalf("pending with a changed redirect: %v, want ErrRedirectMismatch", err)
		}
	})
	t.Run("exchange with another registered redirect", func(t *testing.T) {
		// Both URIs are registered, but the code was issued for the
		// first: the provider must refuse it for the second.
		p, cb := login(t, o, c)
		cfg := o.config()
		cfg.RedirectURL = o.otherURL
		other := newClient(t, cfg)
		p.RedirectURL = o.otherURL
		cb = strings.Replace(cb, "/auth/callback", "/auth/other", 1)
		if _, err := finish(other, p, cb); !errorsIs(err, ErrExchange) {
			t.Fatalf("code redeemed with another redirect_uri: %v, want ErrExchange", err)
		}
	})
	t.Run("unregistered redirect refused by the provider", func(t *testing.T) {
		cfg := o.config()
		cfg.RedirectURL = strings.Replace(o.redirectURL, "/auth/callback", "/not-registered", 1)
		bad := newClient(t, cfg)
		authURL, _ := bad.Start(context.Background())
		browser := &http.Client{Timeout: 5 * time.Second}
		resp, err := browser.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if hiddenID.Match(body) || strings.Contains(resp.Request.URL.String(), "/not-registered") {
			t.Fatalf("provider accepted an unregistered redirect URI: ended at %s", resp.Request.URL)
		}
		if !strings.Contains(string(body), "redirect_uri") {
			t.Fatalf("provider's answer does not mention redirect_uri: %s %.300s", resp.Status, body)
		}
	})
}

func TestNonceAndPending(t *testing.T) {
	t.Parallel()
	o := startOP(t)
	c := newClient(t, o.config())

	t.Run("nonce", func(t *testing.T) {
		p, cb := login(t, o, c)
		p.Nonce = "another-nonce"
		if _, err := finish(c, p, cb); !errorsIs(err, ErrNonce) {
			t.Fatalf("changed nonce: %v, want ErrNonce", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		p, cb := login(t, o, c)
		p.Created = time.Now().Add(-11 * time.Minute)
		if _, err := finish(c, p, cb); !errorsIs(err, ErrPending) {
			t.Fatalf("old pending: %v, want ErrPending", err)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		_, p := c.Start(context.Background())
		cb := o.redirectURL + "?error=access_denied&error_description=user+declined&state=" + url.QueryEscape(p.State)
		if _, err := finish(c, p, cb); !errorsIs(err, ErrProvider) || !strings.Contains(err.Error(), "user declined") {
			t.Fatalf("provider error: %v, want ErrProvider with the description", err)
		}
	})
	t.Run("wrong password never reaches the callback", func(t *testing.T) {
		authURL, _ := c.Start(context.Background())
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 5 * time.Second}
		resp, err := browser.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := hiddenID.FindSubmatch(body)
		if m == nil {
			t.Fatalf("no login form: %.200s", body)
		}
		resp, err = browser.PostForm(resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"}).String(),
			url.Values{"id": {string(m[1])}, "username": {o.user1()}, "password": {"wrong"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "username or password wrong") {
			t.Fatalf("wrong password: %s %.300s", resp.Status, body)
		}
		select {
		case cb := <-o.callbacks:
			t.Fatalf("wrong password reached the callback: %s", cb)
		default:
		}
	})
}

func TestDiscoveryAndConfigErrors(t *testing.T) {
	t.Parallel()
	o := startOP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The issuer must match discovery exactly: a trailing slash is another
	// issuer.
	cfg := o.config()
	cfg.Issuer = o.issuer + "/"
	if _, err := New(ctx, cfg); !errorsIs(err, ErrDiscovery) {
		t.Fatalf("issuer with a trailing slash: %v, want ErrDiscovery", err)
	}
	tests := []struct {
		desc  string
		edit  func(*Config)
		field string
	}{
		{"issuer", func(c *Config) { c.Issuer = "" }, "issuer:"},
		{"client id", func(c *Config) { c.ClientID = "" }, "client_id:"},
		{"redirect missing", func(c *Config) { c.RedirectURL = "" }, "redirect_url:"},
		{"redirect relative", func(c *Config) { c.RedirectURL = "/auth/callback" }, "redirect_url:"},
		{"redirect query", func(c *Config) { c.RedirectURL = o.redirectURL + "?x=1" }, "redirect_url:"},
		{"group role", func(c *Config) { c.GroupRoles[1].Role = "root" }, "group_roles[1].role:"},
		{"group team", func(c *Config) { c.GroupRoles[0].Team = "" }, "group_roles[0].team:"},
	}
	for _, tt := range tests {
		cfg := o.config()
		tt.edit(&cfg)
		if _, err := New(ctx, cfg); !errorsIs(err, ErrConfig) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: %v, want ErrConfig naming %s", tt.desc, err, tt.field)
		}
	}
}

// TestConcurrentLogins runs several logins at once against one Client, as
// a server would.
func TestConcurrentLogins(t *testing.T) {
	t.Parallel()
	o := startOP(t)
	c := newClient(t, o.config())
	// The callback channel is shared; serialise the browser part, overlap
	// the Finish calls.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		p, cb := login(t, o, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := finish(c, p, cb); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
