// Package oidclogin signs users in with an OpenID provider: the
// authorization code flow with PKCE (S256), a state checked against login
// CSRF, a nonce checked against ID token replay, and the exact redirect
// URI. Groups from a configurable claim map to team roles.
//
// The package keeps no state between Start and Finish: the caller keeps
// the Pending value, bound to the browser that started the login (an
// HttpOnly, Secure, SameSite=Lax cookie holding it sealed, or a
// server-side row keyed by a random cookie), and hands it back to Finish.
// Users are identified by (Issuer, Subject), never by email.
package oidclogin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/url"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/berthdev/berth/internal/identity/rbac"
)

// Client is one provider, discovered.
type Client struct {
	cfg      Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
	now      func() time.Time
}

// New fetches the provider's discovery document and checks cfg.
func New(ctx context.Context, cfg Config) (*Client, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.HTTPClient), c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDiscovery, c.Issuer, err)
	}
	return &Client{
		cfg:      c,
		provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: c.ClientID}),
		oauth: oauth2.Config{
			ClientID:     c.ClientID,
			ClientSecret: c.ClientSecret,
			Endpoint:     p.Endpoint(),
			RedirectURL:  c.RedirectURL,
			Scopes:       c.Scopes,
		},
		now: time.Now,
	}, nil
}

// Pending is a login between Start and Finish. All of it is secret to the
// browser that started the login: the verifier above all, since with it
// a stolen code can be redeemed.
type Pending struct {
	State       string    `json:"state"`
	Nonce       string    `json:"nonce"`
	Verifier    string    `json:"verifier"` // PKCE code verifier
	RedirectURL string    `json:"redirect_url"`
	Created     time.Time `json:"created"`
}

// Start begins a login: it returns the provider URL to send the browser
// to, and the Pending to keep for Finish.
func (c *Client) Start(ctx context.Context) (string, Pending) {
	p := Pending{
		State:       randomString(),
		Nonce:       randomString(),
		Verifier:    oauth2.GenerateVerifier(),
		RedirectURL: c.cfg.RedirectURL,
		Created:     c.now(),
	}
	authURL := c.oauth.AuthCodeURL(p.State, oidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier))
	return authURL, p
}

// randomString is 32 random bytes as base64url: unguessable state and
// nonce. crypto/rand.Read does not fail (it crashes the program first).
func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Claims is who signed in.
type Claims struct {
	Issuer        string               `json:"iss"`
	Subject       string               `json:"sub"`
	Email         string               `json:"email,omitempty"`
	EmailVerified bool                 `json:"email_verified,omitempty"`
	Name          string               `json:"name,omitempty"`
	Username      string               `json:"preferred_username,omitempty"`
	Groups        []string             `json:"groups,omitempty"`
	Teams         map[string]rbac.Role `json:"teams,omitempty"` // from GroupRoles
	Expiry        time.Time            `json:"exp"`             // of the ID token
}

// Finish completes a login from the URL the provider redirected the
// browser to (callbackURL, query included) and the Pending from Start.
// It checks, in order: the pending login is whole and fresh, the callback
// came to the exact redirect URI, the provider reported no error, the
// state matches; then it redeems the code with the PKCE verifier,
// verifies the ID token (signature, issuer, audience, expiry, access token
// hash) and its nonce. Nothing is sent to the provider unless the local
// checks pass.
func (c *Client) Finish(ctx context.Context, p Pending, callbackURL string) (Claims, error) {
	switch {
	case p.State == "" || p.Nonce == "":
		return Claims{}, fmt.Errorf("%w: no state or nonce", ErrPending)
	case p.Verifier == "":
		return Claims{}, fmt.Errorf("%w: no PKCE verifier", ErrPending)
	case p.Created.IsZero() || c.now().Sub(p.Created) > c.cfg.PendingTTL:
		return Claims{}, fmt.Errorf("%w: started %v ago, limit %v", ErrPending, c.now().Sub(p.Created).Round(time.Second), c.cfg.PendingTTL)
	case p.RedirectURL != c.cfg.RedirectURL:
		return Claims{}, fmt.Errorf("%w: login was started for %q, this client uses %q", ErrRedirectMismatch, p.RedirectURL, c.cfg.RedirectURL)
	}
	cb, err := url.Parse(callbackURL)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrRedirectMismatch, err)
	}
	if got := cb.Scheme + "://" + cb.Host + cb.EscapedPath(); got != c.cfg.RedirectURL {
		return Claims{}, fmt.Errorf("%w: got %q, want %q", ErrRedirectMismatch, got, c.cfg.RedirectURL)
	}
	q := cb.Query()
	if e := q.Get("error"); e != "" {
		// Checked before the state so the user sees why; the text is the
		// provider's and is shown as data, not trusted further.
		return Claims{}, fmt.Errorf("%w: %s: %s", ErrProvider, e, q.Get("error_description"))
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(p.State)) != 1 {
		return Claims{}, ErrState
	}
	code := q.Get("code")
	if code == "" {
		return Claims{}, fmt.Errorf("%w: callback has no code", ErrExchange)
	}

	ctx = oidc.ClientContext(ctx, c.cfg.HTTPClient)
	tok, err := c.oauth.Exchange(ctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrExchange, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Claims{}, fmt.Errorf("%w: token response has no id_token", ErrIDToken)
	}
	idt, err := c.verifier.Verify(ctx, raw)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		return Claims{}, ErrNonce
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return Claims{}, fmt.Errorf("%w: %w", ErrIDToken, err)
		}
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %w", ErrIDToken, err)
	}
	if c.cfg.UserInfo {
		ui, err := c.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return Claims{}, fmt.Errorf("%w: %w", ErrUserInfo, err)
		}
		// OIDC Core 5.3.2: the UserInfo subject must be the ID token's, or
		// the answer is about someone else and must not be used.
		if ui.Subject != idt.Subject {
			return Claims{}, fmt.Errorf("%w: subject %q, ID token has %q", ErrUserInfo, ui.Subject, idt.Subject)
		}
		var extra map[string]any
		if err := ui.Claims(&extra); err != nil {
			return Claims{}, fmt.Errorf("%w: claims: %w", ErrUserInfo, err)
		}
		for k, v := range extra {
			if _, ok := all[k]; !ok {
				all[k] = v
			}
		}
	}
	cl := Claims{
		Issuer:        idt.Issuer,
		Subject:       idt.Subject,
		Email:         str(all["email"]),
		EmailVerified: boolish(all["email_verified"]),
		Name:          str(all["name"]),
		Username:      str(all["preferred_username"]),
		Groups:        groups(all, c.cfg.GroupsClaim),
		Expiry:        idt.Expiry,
	}
	cl.Teams = TeamRoles(c.cfg.GroupRoles, cl.Groups)
	return cl, nil
}
