package spec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestParseRouteAuth reads both kinds of route auth, with the API key
// header's default, and round-trips them through canonical JSON.
func TestParseRouteAuth(t *testing.T) {
	t.Parallel()
	digest := strings.Repeat("3f", 32)
	a, err := Parse([]byte(`name: shop
services:
  web: {command: [./web], ports: [8080]}
routes:
  - host: shop.localhost
    service: web
    auth:
      jwt: {issuer: "https://idp.example.com", audiences: [shop-web]}
      api_keys:
        keys: {` + digest + `: ci-bot}
    rate_limit: {rate: 10, key: jwt_sub}
  - host: local.localhost
    service: web
    auth:
      jwt: {issuer: "http://127.0.0.1:5556/dex", jwks_url: "http://localhost:5556/keys", audiences: [a, b]}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := &RouteAuth{
		JWT:     &JWTAuth{Issuer: "https://idp.example.com", Audiences: []string{"shop-web"}},
		APIKeys: &APIKeyAuth{Header: DefaultAPIKeyHeader, Keys: map[string]string{digest: "ci-bot"}},
	}
	if got := a.Routes[0].Auth; !reflect.DeepEqual(got, want) {
		t.Errorf("auth = %+v, want %+v", got, want)
	}
	if got := a.Routes[1].Auth; got.APIKeys != nil || got.JWT.JWKSURL != "http://localhost:5556/keys" {
		t.Errorf("auth 1 = %+v", got)
	}
	c1, err := a.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(c1)
	if err != nil {
		t.Fatalf("canonical does not parse: %v\n%s", err, c1)
	}
	if c2, _ := b.Canonical(); string(c1) != string(c2) || !reflect.DeepEqual(a, b) {
		t.Errorf("canonical round trip changed the app:\n%s\n%s", c1, c2)
	}
	if !strings.Contains(string(c1), `"auth":{"jwt":{"issuer":"https://idp.example.com","audiences":["shop-web"]},"api_keys":{"header":"X-API-Key","keys":{"`+digest+`":"ci-bot"}}}`) {
		t.Errorf("canonical auth:\n%s", c1)
	}
}

// TestRouteAuthKeyNotEchoed: a key pasted instead of its digest appears in
// no problem, yet the problem points at its line.
func TestRouteAuthKeyNotEchoed(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("name: shop\nservices:\n  web: {command: [./web], ports: [8080]}\nroutes:\n  - host: shop.localhost\n    service: web\n" +
		"    auth:\n      api_keys:\n        keys:\n          sk_live_very_secret: alice\n"))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Fatalf("err = %v", err)
	}
	p := ve.Problems[0]
	if strings.Contains(p.Path+p.Message, "very_secret") || p.Path != "routes[0].auth.api_keys.keys" || p.Line != 10 {
		t.Errorf("problem = %+v", p)
	}
	// Validate (an App built in code) has no lines, and says the same.
	a := &App{Name: "shop", Services: map[string]*Service{"web": {Command: []string{"./web"}, Ports: []Port{{Port: 8080}}}},
		Routes: []Route{{Host: "shop.localhost", Service: "web", Auth: &RouteAuth{APIKeys: &APIKeyAuth{Keys: map[string]string{"sk_live_very_secret": "alice"}}}}}}
	err = a.Validate()
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || strings.Contains(err.Error(), "very_secret") {
		t.Errorf("Validate = %v", err)
	}
}
