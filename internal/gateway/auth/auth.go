// Package auth is the gateway's edge authentication policy.
//
// A route's requests must carry either a bearer JWT issued by the route's
// OIDC issuer (signature checked against the issuer's JWKS, RS256 or ES256
// only; iss and aud checked; exp, nbf and iat with a small leeway) or one
// of its API keys (looked up by SHA-256 digest). On success the verified
// identity goes to the service in X-Berth-Subject and X-Berth-Auth, and into
// the request's context (FromContext, SubjectFrom) for later middlewares
// such as the per-subject rate limit. Whatever the outcome, client-sent
// copies of those headers are removed first.
//
// JWTs are verified with github.com/go-jose/go-jose/v4 directly rather
// than through github.com/coreos/go-oidc: go-oidc checks a single client
// ID where a route may accept several audiences, has no leeway on exp,
// refetches the JWKS on every unknown kid without a floor (a flood of
// made-up kids becomes a flood on the issuer), and does discovery in its
// constructor, so an issuer that is briefly down would fail loading the
// route table. Here discovery and key fetches happen in the background and
// on demand, rate-limited, and the gateway loads its routes regardless.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Metrics is what the handler New returns exposes besides ServeHTTP.
type Metrics interface {
	Accepted() uint64 // requests authenticated
	Rejected() uint64 // requests refused (401, or 503 without issuer keys)
}

// Option configures the middleware.
type Option func(*options)

type options struct {
	route           string
	log             *slog.Logger
	client          *http.Client
	leeway          time.Duration
	refreshInterval time.Duration
	minRefresh      time.Duration
	cacheSize       int
}

// WithRoute names the route in logs.
func WithRoute(id string) Option { return func(o *options) { o.route = id } }

// WithLogger logs refused requests (at debug, without credentials) and
// key-fetch problems.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithHTTPClient fetches discovery documents and keys with c (default: a
// client with a 10s timeout).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithLeeway sets the clock skew allowed on exp, nbf and iat (default
// DefaultLeeway).
func WithLeeway(d time.Duration) Option { return func(o *options) { o.leeway = d } }

// WithRefreshInterval sets how often keys are re-read in the background
// (default DefaultRefreshInterval).
func WithRefreshInterval(d time.Duration) Option { return func(o *options) { o.refreshInterval = d } }

// WithMinRefreshInterval sets the least time between refetches caused by an
// unknown key ID (default DefaultMinRefreshInterval).
func WithMinRefreshInterval(d time.Duration) Option { return func(o *options) { o.minRefresh = d } }

// WithTokenCache sets how many verified tokens are remembered (default
// DefaultTokenCacheSize); 0 turns the cache off, so every request pays for
// a signature check.
func WithTokenCache(n int) Option { return func(o *options) { o.cacheSize = n } }

// Authenticator is the handler New returns.
type Authenticator struct {
	next     http.Handler
	route    string
	log      *slog.Logger
	jwt      *jwtVerifier // nil: no JWTs accepted
	apiKeys  *apiKeys     // nil: no API keys accepted
	accepted atomic.Uint64
	rejected atomic.Uint64
}

// New wraps next so that it only sees authenticated requests. A bad cfg
// gives an error naming the field (errors.Is ErrInvalidConfig). With a JWT
// policy, New starts fetching the issuer's keys in the background; ctx ends
// that work. New itself does not wait for the issuer.
func New(ctx context.Context, next http.Handler, cfg gateway.AuthPolicy, opts ...Option) (http.Handler, error) {
	if next == nil {
		return nil, errors.New("auth: next handler is nil")
	}
	if err := validate(cfg); err != nil {
		return nil, err
	}
	o := options{
		leeway:          DefaultLeeway,
		refreshInterval: DefaultRefreshInterval,
		minRefresh:      DefaultMinRefreshInterval,
		cacheSize:       DefaultTokenCacheSize,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.client == nil {
		o.client = &http.Client{Timeout: fetchTimeout}
	}
	if o.refreshInterval <= 0 {
		o.refreshInterval = DefaultRefreshInterval
	}
	a := &Authenticator{next: next, route: o.route, log: o.log}
	if cfg.APIKeys != nil {
		a.apiKeys = newAPIKeys(cfg.APIKeys)
	}
	if j := cfg.JWT; j != nil {
		ks := &keySet{
			client:     o.client,
			issuer:     j.Issuer,
			jwksURL:    j.JWKSURL,
			minRefresh: o.minRefresh,
			log:        o.log.With("route", o.route),
			life:       ctx,
		}
		a.jwt = &jwtVerifier{issuer: j.Issuer, audiences: jwt.Audience(j.Audiences), leeway: o.leeway, keys: ks, cache: newTokenCache(o.cacheSize)}
		go ks.run(o.refreshInterval)
	}
	return a, nil
}

// Accepted implements Metrics.
func (a *Authenticator) Accepted() uint64 { return a.accepted.Load() }

// Rejected implements Metrics.
func (a *Authenticator) Rejected() uint64 { return a.rejected.Load() }

func (a *Authenticator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	StripIdentityHeaders(r.Header)
	id, rej := a.authenticate(r)
	if rej != nil {
		a.refuse(w, r, rej)
		return
	}
	a.accepted.Add(1)
	r.Header.Set(HeaderSubject, id.Subject)
	r.Header.Set(HeaderAuth, id.Method)
	a.next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
}

// authenticate picks the credential: a bearer token when JWTs are accepted
// and one is sent (a bad one is refused, never passed over for an API
// key), else the API key header.
func (a *Authenticator) authenticate(r *http.Request) (Identity, *rejection) {
	if a.jwt != nil {
		if tok, ok := bearerToken(r); ok {
			return a.jwt.verify(r.Context(), tok)
		}
	}
	if a.apiKeys != nil && a.apiKeys.present(r) {
		return a.apiKeys.verify(r)
	}
	return Identity{}, &rejection{status: http.StatusUnauthorized, desc: ""}
}

// refuse answers 401 (503 when the issuer's keys cannot be had: the token
// may be fine, and a 401 would send clients to log in again for nothing).
// Following RFC 6750 §3.1, a request that sent no credentials gets a bare
// challenge; one with a bad token gets error="invalid_token" and a short
// description. Neither echoes the token.
func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, rej *rejection) {
	a.rejected.Add(1)
	msg := rej.desc
	if msg == "" {
		msg = "authentication required"
	}
	a.log.Debug("auth: request refused", "route", a.route, "method", r.Method, "path", r.URL.Path,
		"reason", msg, "err", rej.cause)
	h := w.Header()
	if rej.status == http.StatusUnauthorized {
		if a.jwt != nil {
			c := `Bearer realm="berth"`
			if rej.bearer {
				c += `, error="invalid_token", error_description="` + rej.desc + `"`
			}
			h.Add("WWW-Authenticate", c)
		}
		if a.apiKeys != nil {
			h.Add("WWW-Authenticate", `APIKey realm="berth", header="`+a.apiKeys.name+`"`)
		}
	} else {
		h.Set("Retry-After", "5")
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(rej.status)
	code := "unauthorized"
	if rej.status != http.StatusUnauthorized {
		code = "unavailable"
	}
	_ = json.NewEncoder(w).Encode(errorBody{Error: errorDetail{Code: code, Message: msg}})
}

// errorBody has the shape of the API's error body (pkg/api.ErrorBody).
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
