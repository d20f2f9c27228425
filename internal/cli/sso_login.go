package cli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"time"
)

// ssoTimeout bounds how long `berth login --sso` waits for the browser.
const ssoTimeout = 5 * time.Minute

// ssoLogin signs in through the browser: a loopback listener receives a
// one-time code from the server (RFC 8252), which only this process can
// redeem, because it holds the PKCE verifier whose challenge the server
// got. It returns the personal token the server issued.
func (r *runner) ssoLogin(ctx context.Context, base string) (string, error) {
	verifier, state := randomURLSafe(), randomURLSafe()
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen for the browser's return: %w", err)
	}
	got := make(chan string, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/callback" {
			http.NotFound(w, req)
			return
		}
		q := req.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 || q.Get("code") == "" {
			http.Error(w, "this login was not started here; run berth login --sso again", http.StatusBadRequest)
			return
		}
		io.WriteString(w, "Berth: you are logged in; you may close this window.\n")
		select {
		case got <- q.Get("code"):
		default:
		}
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ends at Close below
	}()
	defer func() {
		_ = srv.Close()
		<-done
	}()

	c := r.newClient(base, "")
	start := c.SSOStartURL("http://"+ln.Addr().String()+"/callback", challenge, state)
	fmt.Fprintf(r.Stderr, "Opening your browser to sign in. If it does not open, visit:\n  %s\n", start)
	if err := r.openBrowser(start); err != nil {
		fmt.Fprintf(r.Stderr, "(could not open a browser: %v)\n", err)
	}
	wait, cancel := context.WithTimeout(ctx, ssoTimeout)
	defer cancel()
	var code string
	select {
	case code = <-got:
	case <-wait.Done():
		if errors.Is(wait.Err(), context.DeadlineExceeded) {
			return "", failed(fmt.Errorf("no sign-in within %s; run berth login --sso again", ssoTimeout), "")
		}
		return "", wait.Err()
	}
	tok, err := c.ExchangeCLICode(ctx, code, verifier)
	if err != nil {
		return "", err
	}
	return tok.Token, nil
}

func (r *runner) openBrowser(url string) error {
	if r.OpenBrowser != nil {
		return r.OpenBrowser(url)
	}
	name := "xdg-open"
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		return errors.New("open the address by hand")
	}
	cmd := exec.Command(name, url)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }() // reaps the opener, which exits at once
	return nil
}

func randomURLSafe() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
