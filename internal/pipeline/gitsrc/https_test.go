package gitsrc

import (
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/berthdev/berth/internal/pipeline/gitsrc/gittest"
)

// HTTPS with a token, as a private forge serves it: the checkout trusts
// the server's certificate through the system's roots (here
// SSL_CERT_FILE, as an operator would point Go at a private CA), sends
// the token and gets the exact commit; a wrong token is refused.
//
// Not parallel: the process loads the system roots once, at its first TLS
// handshake, and this test must be the one that makes it (no other test
// in this package uses TLS).
func TestCheckoutOverHTTPSWithToken(t *testing.T) {
	r := makeRepo(t, "tls", true)
	base, cert := gittest.ServeTLS(t, r.root, "tls-token")
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", bundle)
	url := base + "/tls.git"
	dir := t.TempDir()
	if err := Checkout(t.Context(), quiet, Source{URL: url, Commit: r.c2, Auth: Auth{Token: "tls-token"}}, dir); err != nil {
		t.Fatalf("over HTTPS with the token: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		t.Fatalf("no checkout: %v", err)
	}
	if _, commit, err := Resolve(t.Context(), url, "main", Auth{Token: "tls-token"}); err != nil || commit != r.c2 {
		t.Errorf("Resolve over HTTPS = %s, %v; want %s", commit, err, r.c2)
	}
	err := Checkout(t.Context(), quiet, Source{URL: url, Commit: r.c2, Auth: Auth{Token: "wrong"}}, t.TempDir())
	if !errors.Is(err, transport.ErrAuthorizationFailed) && !errors.Is(err, transport.ErrAuthenticationRequired) {
		t.Errorf("with a wrong token: %v, want an auth error", err)
	}
}
