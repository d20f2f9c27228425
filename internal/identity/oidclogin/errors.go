package oidclogin

import "errors"

var (
	// ErrConfig means a Config field is missing or wrong; the message
	// names it.
	ErrConfig = errors.New("invalid OIDC config")
	// ErrDiscovery means the provider's discovery document could not be
	// fetched or does not match the issuer.
	ErrDiscovery = errors.New("OIDC discovery failed")
	// ErrPending means the pending login is missing a part (state, nonce,
	// PKCE verifier) or has expired: start again.
	ErrPending = errors.New("pending login unusable")
	// ErrRedirectMismatch means the callback did not arrive at the exact
	// redirect URI the login was started with.
	ErrRedirectMismatch = errors.New("callback at an unexpected redirect URI")
	// ErrState means the callback's state is not the pending login's: a
	// forged or crossed callback (login CSRF).
	ErrState = errors.New("state does not match")
	// ErrProvider means the provider answered the authorization request
	// with an error (the user declined, the client is not allowed...).
	ErrProvider = errors.New("provider returned an error")
	// ErrExchange means the provider refused the code (used, expired,
	// wrong PKCE verifier or redirect URI).
	ErrExchange = errors.New("code exchange failed")
	// ErrIDToken means the ID token is missing or fails verification
	// (signature, issuer, audience, expiry, access token hash).
	ErrIDToken = errors.New("ID token rejected")
	// ErrNonce means the ID token's nonce is not the pending login's: a
	// replayed or injected token.
	ErrNonce = errors.New("nonce does not match")
	// ErrUserInfo means the UserInfo endpoint failed or answered for
	// another subject.
	ErrUserInfo = errors.New("userinfo failed")
)
