package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// provider is a real OpenID provider as far as a resource server can tell:
// an HTTP server on loopback serving a discovery document and a JWKS of
// keys the test generates, whose private halves mint the test's tokens.
type provider struct {
	srv      *httptest.Server
	issuer   string // what discovery claims; srv.URL unless a test lies
	mu       sync.Mutex
	jwks     []any // what the JWKS serves, verbatim
	jwksHits atomic.Int32
}

func newProvider(t *testing.T) *provider { return newProviderB(t) }

func newProviderB(t testing.TB) *provider {
	t.Helper()
	p := &provider{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		p.mu.Lock()
		iss := p.issuer
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                iss,
			"jwks_uri":                              p.srv.URL + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		p.jwksHits.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": p.jwks})
	})
	p.srv = httptest.NewServer(mux)
	p.issuer = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// signingKey is a private key and the kid it is published under.
type signingKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key any
}

var kidSeq atomic.Int64

func newRSAKey(t testing.TB) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: "rsa-" + strconv.FormatInt(kidSeq.Add(1), 10), alg: jose.RS256, key: k}
}

func newECKey(t testing.TB) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: "ec-" + strconv.FormatInt(kidSeq.Add(1), 10), alg: jose.ES256, key: k}
}

func (k signingKey) public() jose.JSONWebKey {
	var pub any
	switch priv := k.key.(type) {
	case *rsa.PrivateKey:
		pub = &priv.PublicKey
	case *ecdsa.PrivateKey:
		pub = &priv.PublicKey
	}
	return jose.JSONWebKey{Key: pub, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// publish adds keys to the JWKS.
func (p *provider) publish(keys ...signingKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		p.jwks = append(p.jwks, k.public())
	}
}

// publishRaw adds a JWKS entry as is (junk, symmetric keys...).
func (p *provider) publishRaw(entry any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jwks = append(p.jwks, entry)
}

// claims are a token's claims relative to now; zero fields are left out.
type claims struct {
	iss, sub string
	aud      []string
	exp, nbf time.Duration // from now; 0: absent
}

func (p *provider) good() claims {
	return claims{iss: p.issuer, sub: "alice", aud: []string{"shop"}, exp: time.Hour}
}

func (c claims) jwt() jwt.Claims {
	now := time.Now()
	out := jwt.Claims{Issuer: c.iss, Subject: c.sub, Audience: c.aud, IssuedAt: jwt.NewNumericDate(now)}
	if c.exp != 0 {
		out.Expiry = jwt.NewNumericDate(now.Add(c.exp))
	}
	if c.nbf != 0 {
		out.NotBefore = jwt.NewNumericDate(now.Add(c.nbf))
	}
	return out
}

// mint signs c with k, naming k's kid (unless kid is "-": none).
func mint(t testing.TB, k signingKey, c claims) string {
	t.Helper()
	jwk := jose.JSONWebKey{Key: k.key, KeyID: k.kid}
	if k.kid == "-" {
		jwk.KeyID = ""
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jwk}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(c.jwt()).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned builds an alg "none" token by hand; no library will.
func unsigned(t testing.TB, c claims) string {
	t.Helper()
	hdr, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	body, _ := json.Marshal(c.jwt())
	enc := base64.RawURLEncoding
	return enc.EncodeToString(hdr) + "." + enc.EncodeToString(body) + "."
}
