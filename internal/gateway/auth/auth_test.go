package auth

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/berthdev/berth/internal/gateway"
)

// echo answers with what the service would see: the identity headers and
// the identity in the context.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, _ := FromContext(r.Context())
	_ = json.NewEncoder(w).Encode(map[string]any{
		"subject":  r.Header.Values(HeaderSubject),
		"auth":     r.Header.Values(HeaderAuth),
		"ctx":      id,
		"spoofed":  r.Header.Values("X_Berth_Subject"),
		"spoofed2": r.Header.Values("x-berth-auth"),
	})
})

type seen struct {
	Subject  []string `json:"subject"`
	Auth     []string `json:"auth"`
	Ctx      Identity `json:"ctx"`
	Spoofed  []string `json:"spoofed"`
	Spoofed2 []string `json:"spoofed2"`
}

func sha(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}

func newAuth(t *testing.T, cfg gateway.AuthPolicy, opts ...Option) http.Handler {
	t.Helper()
	h, err := New(t.Context(), echo, cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func get(h http.Handler, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	jwtOK := func(mod func(*gateway.JWTAuth)) gateway.AuthPolicy {
		j := &gateway.JWTAuth{Issuer: "https://id.example.com", Audiences: []string{"shop"}}
		mod(j)
		return gateway.AuthPolicy{JWT: j}
	}
	tests := []struct {
		desc string
		cfg  gateway.AuthPolicy
		want string
	}{
		{"nothing", gateway.AuthPolicy{}, "auth.jwt: set jwt or api_keys"},
		{"no issuer", jwtOK(func(j *gateway.JWTAuth) { j.Issuer = "" }), "auth.jwt.issuer: is required"},
		{"relative issuer", jwtOK(func(j *gateway.JWTAuth) { j.Issuer = "id.example.com" }), "auth.jwt.issuer: \"id.example.com\" is not an absolute URL"},
		{"http issuer", jwtOK(func(j *gateway.JWTAuth) { j.Issuer = "http://id.example.com" }), "must use https (plain http only for a loopback host)"},
		{"ftp jwks", jwtOK(func(j *gateway.JWTAuth) { j.JWKSURL = "ftp://id.example.com/keys" }), "auth.jwt.jwks_url: \"ftp://id.example.com/keys\" must be an https URL"},
		{"no audience", jwtOK(func(j *gateway.JWTAuth) { j.Audiences = nil }), "auth.jwt.audiences: at least one audience is required"},
		{"empty audience", jwtOK(func(j *gateway.JWTAuth) { j.Audiences = []string{"shop", " "} }), "auth.jwt.audiences[1]: is empty"},
		{"no keys", gateway.AuthPolicy{APIKeys: &gateway.APIKeys{}}, "auth.api_keys.keys: at least one key is required"},
		{"raw key instead of digest", gateway.AuthPolicy{APIKeys: &gateway.APIKeys{Keys: map[string]string{"s3cret-key": "ci"}}}, "auth.api_keys.keys: an entry (10 characters) is not a SHA-256 hex digest"},
		{"empty subject", gateway.AuthPolicy{APIKeys: &gateway.APIKeys{Keys: map[string]string{sha("k"): ""}}}, "auth.api_keys.keys: an entry maps to an empty subject"},
		{"bad header", gateway.AuthPolicy{APIKeys: &gateway.APIKeys{Header: "X Key", Keys: map[string]string{sha("k"): "ci"}}}, "auth.api_keys.header: \"X Key\" is not a valid header name"},
		{"authorization header", gateway.AuthPolicy{APIKeys: &gateway.APIKeys{Header: "authorization", Keys: map[string]string{sha("k"): "ci"}}}, "auth.api_keys.header: must not be Authorization"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, err := New(t.Context(), echo, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("%v is not ErrInvalidConfig", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error echoes a key: %v", err)
			}
		})
	}
	if _, err := New(t.Context(), echo, jwtOK(func(j *gateway.JWTAuth) { j.Issuer = "http://127.0.0.1:9999" })); err != nil {
		t.Errorf("loopback http issuer refused: %v", err)
	}
}

func TestJWT(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	rsaKey, ecKey := newRSAKey(t), newECKey(t)
	p.publish(rsaKey, ecKey)
	// Junk the JWKS may hold beside real keys: none of it may verify anything.
	hmacSecret := []byte("0123456789abcdef0123456789abcdef")
	p.publishRaw(map[string]any{"kty": "oct", "kid": "hmac", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"})
	p.publishRaw(map[string]any{"kty": "weird", "kid": "x"})
	encKey := newRSAKey(t).public()
	encKey.Use, encKey.Algorithm, encKey.KeyID = "enc", "RSA-OAEP", "enc-1"
	p.publishRaw(encKey)

	h := newAuth(t, gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: p.issuer, Audiences: []string{"other", "shop"}}})
	stranger := newRSAKey(t)
	stranger.kid = rsaKey.kid // claims to be the published key
	noKid := ecKey
	noKid.kid = "-"
	hmacKey := signingKey{kid: "hmac", alg: jose.HS256, key: hmacSecret}
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.key.(*rsa.PrivateKey).PublicKey)
	keyConfusion := signingKey{kid: rsaKey.kid, alg: jose.HS256, key: pubDER}

	with := func(mod func(*claims)) claims {
		c := p.good()
		mod(&c)
		return c
	}
	tests := []struct {
		desc    string
		token   string
		want    int
		subject string // on success
		why     string // error_description on failure
	}{
		{desc: "RS256", token: mint(t, rsaKey, p.good()), want: 200, subject: "alice"},
		{desc: "ES256", token: mint(t, ecKey, p.good()), want: 200, subject: "alice"},
		{desc: "no kid", token: mint(t, noKid, p.good()), want: 200, subject: "alice"},
		{desc: "expired within leeway", token: mint(t, rsaKey, with(func(c *claims) { c.exp = -10 * time.Second })), want: 200, subject: "alice"},
		{desc: "expired", token: mint(t, rsaKey, with(func(c *claims) { c.exp = -2 * time.Minute })), want: 401, why: "token expired"},
		{desc: "not yet valid", token: mint(t, rsaKey, with(func(c *claims) { c.nbf = 5 * time.Minute })), want: 401, why: "token not valid yet"},
		{desc: "no expiry", token: mint(t, rsaKey, with(func(c *claims) { c.exp = 0 })), want: 401, why: "token has no expiry"},
		{desc: "wrong issuer", token: mint(t, rsaKey, with(func(c *claims) { c.iss = "https://evil.example.com" })), want: 401, why: "issuer not accepted"},
		{desc: "wrong audience", token: mint(t, rsaKey, with(func(c *claims) { c.aud = []string{"billing"} })), want: 401, why: "audience not accepted"},
		{desc: "no subject", token: mint(t, rsaKey, with(func(c *claims) { c.sub = "" })), want: 401, why: "token has no subject"},
		{desc: "bad signature", token: mint(t, stranger, p.good()), want: 401, why: "bad signature"},
		{desc: "tampered payload", token: tamper(mint(t, rsaKey, p.good())), want: 401, why: "bad signature"},
		{desc: "alg none", token: unsigned(t, p.good()), want: 401, why: "signing algorithm not allowed"},
		{desc: "HS256 with the published secret", token: mint(t, hmacKey, p.good()), want: 401, why: "signing algorithm not allowed"},
		{desc: "HS256 with the public key as secret", token: mint(t, keyConfusion, p.good()), want: 401, why: "signing algorithm not allowed"},
		{desc: "garbage", token: "not.a.jwt", want: 401, why: "malformed token"},
		{desc: "empty bearer", token: "", want: 401, why: "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			rec := get(h, bearer(tt.token))
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d (body %s)", rec.Code, tt.want, rec.Body)
			}
			if tt.want == 200 {
				var s seen
				_ = json.Unmarshal(rec.Body.Bytes(), &s)
				if len(s.Subject) != 1 || s.Subject[0] != tt.subject || s.Auth[0] != MethodJWT || s.Ctx.Subject != tt.subject {
					t.Errorf("service saw %+v, want subject %q by jwt", s, tt.subject)
				}
				return
			}
			wantChallenge := `Bearer realm="berth", error="invalid_token", error_description="` + tt.why + `"`
			if got := rec.Header().Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
			}
			if tt.token != "" && strings.Contains(rec.Body.String()+strings.Join(rec.Header().Values("WWW-Authenticate"), ""), tt.token) {
				t.Errorf("the answer echoes the token")
			}
			if !strings.Contains(rec.Body.String(), `"code":"unauthorized"`) {
				t.Errorf("body %s is not an unauthorized error", rec.Body)
			}
		})
	}
}

// tamper changes the payload of a signed token, keeping the signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	parts[1] = parts[1][:len(parts[1])-2] + "xx"
	return strings.Join(parts, ".")
}

func TestMissingCredentials(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	tests := []struct {
		desc       string
		cfg        gateway.AuthPolicy
		header     http.Header
		challenges []string
	}{
		{
			desc:       "jwt route, nothing sent",
			cfg:        gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: p.issuer, Audiences: []string{"shop"}}},
			challenges: []string{`Bearer realm="berth"`},
		},
		{
			desc:       "jwt route, basic auth sent",
			cfg:        gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: p.issuer, Audiences: []string{"shop"}}},
			header:     http.Header{"Authorization": {"Basic YWxpY2U6cHc="}},
			challenges: []string{`Bearer realm="berth"`},
		},
		{
			desc:       "api key route",
			cfg:        gateway.AuthPolicy{APIKeys: &gateway.APIKeys{Keys: map[string]string{sha("k"): "ci"}}},
			challenges: []string{`APIKey realm="berth", header="X-API-Key"`},
		},
		{
			desc: "both",
			cfg: gateway.AuthPolicy{
				JWT:     &gateway.JWTAuth{Issuer: p.issuer, Audiences: []string{"shop"}},
				APIKeys: &gateway.APIKeys{Header: "x-shop-key", Keys: map[string]string{sha("k"): "ci"}},
			},
			challenges: []string{`Bearer realm="berth"`, `APIKey realm="berth", header="x-shop-key"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			rec := get(newAuth(t, tt.cfg), tt.header)
			if rec.Code != 401 {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			if got := rec.Header().Values("WWW-Authenticate"); strings.Join(got, "|") != strings.Join(tt.challenges, "|") {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenges)
			}
		})
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	k := newRSAKey(t)
	p.publish(k)
	both := newAuth(t, gateway.AuthPolicy{
		JWT:     &gateway.JWTAuth{Issuer: p.issuer, Audiences: []string{"shop"}},
		APIKeys: &gateway.APIKeys{Keys: map[string]string{sha("key-ci"): "ci-bot", sha("key-ops"): "ops"}},
	})
	custom := newAuth(t, gateway.AuthPolicy{APIKeys: &gateway.APIKeys{Header: "X-Shop-Key", Keys: map[string]string{sha("key-ci"): "ci-bot"}}})
	tests := []struct {
		desc    string
		h       http.Handler
		header  http.Header
		want    int
		subject string
		method  string
	}{
		{"valid key", both, http.Header{"X-Api-Key": {"key-ci"}}, 200, "ci-bot", MethodAPIKey},
		{"other key", both, http.Header{"X-Api-Key": {"key-ops"}}, 200, "ops", MethodAPIKey},
		{"wrong key", both, http.Header{"X-Api-Key": {"key-nope"}}, 401, "", ""},
		{"empty key", both, http.Header{"X-Api-Key": {""}}, 401, "", ""},
		{"the digest is not the key", both, http.Header{"X-Api-Key": {sha("key-ci")}}, 401, "", ""},
		{"bearer wins over key", both, http.Header{"Authorization": {"Bearer " + mint(t, k, p.good())}, "X-Api-Key": {"key-ci"}}, 200, "alice", MethodJWT},
		{"bad bearer is not rescued by a key", both, http.Header{"Authorization": {"Bearer junk"}, "X-Api-Key": {"key-ci"}}, 401, "", ""},
		{"custom header", custom, http.Header{"X-Shop-Key": {"key-ci"}}, 200, "ci-bot", MethodAPIKey},
		{"default header on custom route", custom, http.Header{"X-Api-Key": {"key-ci"}}, 401, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			rec := get(tt.h, tt.header)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tt.want, rec.Body)
			}
			if tt.want != 200 {
				if strings.Contains(rec.Body.String(), "key-") {
					t.Errorf("the answer echoes the key: %s", rec.Body)
				}
				return
			}
			var s seen
			_ = json.Unmarshal(rec.Body.Bytes(), &s)
			if s.Ctx != (Identity{Subject: tt.subject, Method: tt.method}) || s.Subject[0] != tt.subject || s.Auth[0] != tt.method {
				t.Errorf("service saw %+v, want %s by %s", s, tt.subject, tt.method)
			}
		})
	}
}

// A client must never get its own X-Berth-Subject to the service, in any
// spelling, whether it authenticates or not.
func TestSpoofedIdentityHeadersStripped(t *testing.T) {
	t.Parallel()
	var reached []http.Header
	h, err := New(t.Context(), http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		reached = append(reached, r.Header.Clone())
	}), gateway.AuthPolicy{APIKeys: &gateway.APIKeys{Keys: map[string]string{sha("key-ci"): "ci-bot"}}})
	if err != nil {
		t.Fatal(err)
	}
	spoof := func(req *http.Request) {
		req.Header.Set(HeaderSubject, "admin")
		req.Header.Add(HeaderSubject, "root")
		req.Header.Set(HeaderAuth, "jwt")
		req.Header["X_Berth_Subject"] = []string{"admin"} // not canonicalised by net/http
		req.Header["x-berth-auth"] = []string{"jwt"}
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	spoof(req)
	req.Header.Set("X-API-Key", "key-ci")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if len(reached) != 1 {
		t.Fatal("authenticated request did not reach the service")
	}
	want := http.Header{HeaderSubject: {"ci-bot"}, HeaderAuth: {MethodAPIKey}, "X-Api-Key": {"key-ci"}}
	for k, v := range reached[0] {
		if isIdentityHeader(k) && strings.Join(v, ",") != strings.Join(want[k], ",") {
			t.Errorf("service got %s: %q", k, v)
		}
	}
	if got := reached[0].Values(HeaderSubject); len(got) != 1 || got[0] != "ci-bot" {
		t.Errorf("X-Berth-Subject = %q, want [ci-bot]", got)
	}

	req = httptest.NewRequest(http.MethodGet, "/", nil)
	spoof(req)
	h.ServeHTTP(httptest.NewRecorder(), req)
	for k := range req.Header {
		if isIdentityHeader(k) {
			t.Errorf("refused request still carries %s", k)
		}
	}
}

func TestStripIdentityHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"X-Berth-Subject": {"a"}, "X_berth_subject": {"b"}, "x-berth-auth": {"jwt"},
		"X-Berth-Other": {"keep"}, "X-Berth-Subjects": {"keep"}, "Authorization": {"keep"},
	}
	StripIdentityHeaders(h)
	if len(h) != 3 || h.Get("X-Berth-Other") != "keep" || h.Get("X-Berth-Subjects") != "keep" {
		t.Errorf("left %v", h)
	}
}

// Key rotation: the issuer publishes a new key and signs with it; the first
// token naming it makes the gateway refetch the JWKS. Made-up kids refetch
// at most once per MinRefreshInterval.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	oldKey := newRSAKey(t)
	p.publish(oldKey)
	cfg := gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: p.issuer, Audiences: []string{"shop"}}}

	h := newAuth(t, cfg, WithMinRefreshInterval(0))
	if rec := get(h, bearer(mint(t, oldKey, p.good()))); rec.Code != 200 {
		t.Fatalf("old key: %d %s", rec.Code, rec.Body)
	}
	hits := p.jwksHits.Load()
	newKey := newECKey(t)
	p.publish(newKey)
	if rec := get(h, bearer(mint(t, newKey, p.good()))); rec.Code != 200 {
		t.Fatalf("rotated key: %d %s", rec.Code, rec.Body)
	}
	if got := p.jwksHits.Load(); got != hits+1 {
		t.Errorf("JWKS fetched %d times for one rotation, want 1", got-hits)
	}
	if rec := get(h, bearer(mint(t, newKey, p.good()))); rec.Code != 200 || p.jwksHits.Load() != hits+1 {
		t.Errorf("known key refetched the JWKS or failed (%d)", rec.Code)
	}

	// A floor on refetches: a stream of unknown kids costs one fetch.
	slow := newAuth(t, cfg, WithMinRefreshInterval(time.Hour))
	if rec := get(slow, bearer(mint(t, oldKey, p.good()))); rec.Code != 200 {
		t.Fatalf("old key: %d", rec.Code)
	}
	hits = p.jwksHits.Load()
	for range 20 {
		bogus := newECKey(t) // never published
		rec := get(slow, bearer(mint(t, bogus, p.good())))
		if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), "unknown signing key") {
			t.Fatalf("unknown kid: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
	if got := p.jwksHits.Load() - hits; got > 1 {
		t.Errorf("20 unknown kids fetched the JWKS %d times, want at most 1", got)
	}
}

func TestIssuerUnavailable(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	k := newRSAKey(t)
	p.publish(k)
	tests := []struct {
		desc  string
		setup func(p *provider) gateway.AuthPolicy
	}{
		{"issuer down", func(p *provider) gateway.AuthPolicy {
			return gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: "http://127.0.0.1:1", Audiences: []string{"shop"}}}
		}},
		{"discovery for another issuer", func(p *provider) gateway.AuthPolicy {
			return gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: p.issuer + "/realms/other", Audiences: []string{"shop"}}}
		}},
		{"jwks not found", func(p *provider) gateway.AuthPolicy {
			return gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: p.issuer, JWKSURL: p.srv.URL + "/nope", Audiences: []string{"shop"}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			h := newAuth(t, tt.setup(p))
			rec := get(h, bearer(mint(t, k, p.good())))
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
				t.Fatalf("status %d Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
			}
		})
	}
}

// Through real HTTP servers end to end: client -> gateway handler -> service.
func TestOverHTTP(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	k := newRSAKey(t)
	p.publish(k)
	service := httptest.NewServer(echo)
	defer service.Close()
	h, err := New(t.Context(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A minimal forwarder, the way the core proxies.
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, service.URL+r.URL.Path, nil)
		out.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	}), gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: p.issuer, JWKSURL: p.srv.URL + "/keys", Audiences: []string{"shop"}}})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	defer front.Close()

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, front.URL+"/orders", nil)
	req.Header.Set("Authorization", "Bearer "+mint(t, k, p.good()))
	req.Header.Set("X-Berth-Subject", "admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s seen
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || strings.Join(s.Subject, ",") != "alice" || strings.Join(s.Auth, ",") != "jwt" {
		t.Errorf("service saw %d %+v", resp.StatusCode, s)
	}
	m := h.(Metrics)
	if m.Accepted() != 1 || m.Rejected() != 0 {
		t.Errorf("metrics accepted=%d rejected=%d", m.Accepted(), m.Rejected())
	}
}

// The background refresh stops with New's context.
func TestRefreshStopsWithContext(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	p.publish(newRSAKey(t))
	ctx, cancel := context.WithCancel(t.Context())
	_, err := New(ctx, echo, gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: p.issuer, Audiences: []string{"shop"}}},
		WithRefreshInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for p.jwksHits.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if p.jwksHits.Load() < 3 {
		t.Fatalf("background refresh fetched %d times", p.jwksHits.Load())
	}
	cancel()
	time.Sleep(30 * time.Millisecond)
	n := p.jwksHits.Load()
	time.Sleep(60 * time.Millisecond)
	if got := p.jwksHits.Load(); got != n {
		t.Errorf("refresh went on after the context ended: %d -> %d fetches", n, got)
	}
}

// The token cache must not outlive the token or the key that signed it.
func TestTokenCache(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	oldKey, newKey := newRSAKey(t), newECKey(t)
	p.publish(oldKey)
	h := newAuth(t, gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: p.issuer, Audiences: []string{"shop"}}},
		WithLeeway(0), WithMinRefreshInterval(0))

	short := mint(t, oldKey, claims{iss: p.issuer, sub: "alice", aud: []string{"shop"}, exp: time.Second})
	long := mint(t, oldKey, p.good())
	for range 2 { // the second time from the cache
		if rec := get(h, bearer(short)); rec.Code != 200 {
			t.Fatalf("short-lived token: %d", rec.Code)
		}
		if rec := get(h, bearer(long)); rec.Code != 200 {
			t.Fatalf("token: %d", rec.Code)
		}
	}
	if n := len(h.(*Authenticator).jwt.cache.m); n != 2 {
		t.Errorf("%d tokens cached, want 2", n)
	}

	// The issuer withdraws the old key; a token with the new key makes the
	// gateway refetch, and the cached token no longer passes.
	p.mu.Lock()
	p.jwks = nil
	p.mu.Unlock()
	p.publish(newKey)
	if rec := get(h, bearer(mint(t, newKey, p.good()))); rec.Code != 200 {
		t.Fatalf("new key: %d", rec.Code)
	}
	if rec := get(h, bearer(long)); rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), "unknown signing key") {
		t.Errorf("token of a withdrawn key: %d %q, want 401 unknown signing key", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}

	// Expiry is checked on every hit.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(2 * time.Second)))
	if rec := get(h, bearer(short)); rec.Code != 401 {
		t.Errorf("expired cached token: %d, want 401", rec.Code)
	}
}
