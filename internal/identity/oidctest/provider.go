// Package oidctest runs a real OpenID provider for tests: zitadel/oidc's
// example provider, in process on 127.0.0.1, with a "groups" claim added,
// and plays the browser that signs in at it. Only tests import it.
package oidctest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// The provider's registered client and its first user's password.
const (
	ClientID     = "berth"
	ClientSecret = "berth-client-secret"
	Password     = "verysecure"
)

// groupStorage adds a "groups" claim to the example's ID tokens.
type groupStorage struct {
	*storage.Storage
	groups map[string][]string
}

func (s *groupStorage) SetUserinfoFromRequest(ctx context.Context, ui *zoidc.UserInfo, req zop.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	if g, ok := s.groups[req.GetSubject()]; ok {
		ui.AppendClaims("groups", g)
	}
	return nil
}

// Provider is a running provider.
type Provider struct {
	Issuer string
}

// Start runs a provider until the test ends. The client ClientID may
// redirect to redirectURIs; the first user ("id1") is in groups.
func Start(t *testing.T, groups []string, redirectURIs ...string) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	st := &groupStorage{
		Storage: storage.NewStorageWithClients(storage.NewUserStore(issuer),
			map[string]*storage.Client{ClientID: storage.WebClient(ClientID, ClientSecret, redirectURIs...)}),
		groups: map[string][]string{"id1": groups},
	}
	// nil logger: SetupServer would otherwise replace the default logger.
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, st, nil, false), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &Provider{Issuer: issuer}
}

// User is the first user's login name.
func (p *Provider) User() string {
	u, _ := url.Parse(p.Issuer)
	return "test-user@" + u.Hostname()
}

var loginFormID = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]+)">`)

// SignIn plays the browser with b (which should keep cookies): it opens
// start, which must lead to the provider's login form, signs in as the
// first user, and follows the redirects. It returns the last response's
// status and body.
func (p *Provider) SignIn(t *testing.T, b *http.Client, start string) (*http.Response, []byte) {
	t.Helper()
	resp, err := b.Get(start)
	if err != nil {
		t.Fatalf("open %s: %v", start, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := loginFormID.FindSubmatch(body)
	if m == nil {
		t.Fatalf("%s led to %s %s, not the login form: %.300s", start, resp.Request.URL, resp.Status, body)
	}
	form := url.Values{"id": {string(m[1])}, "username": {p.User()}, "password": {Password}}
	resp, err = b.PostForm(p.Issuer+"/login/username", form)
	if err != nil {
		t.Fatalf("post the login form: %v", err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body
}
