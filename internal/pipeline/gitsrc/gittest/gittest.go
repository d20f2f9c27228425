// Package gittest builds real Git repositories for tests and serves them
// over Git's smart HTTP protocol (git http-backend) on 127.0.0.1. It runs
// the git binary; the code under test fetches with go-git.
package gittest

import (
	"crypto/subtle"
	"crypto/x509"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Git runs git in dir with a fixed identity and no user or system
// configuration, and returns its trimmed output; a failure fails t.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com",
		"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Serve serves the repositories under root (root/<path>.git is
// <URL>/<path>.git) until t ends, and returns the server's URL. With token
// set, every request needs it as the basic-auth password, as a forge asks
// for an access token, and gets 401 without it.
func Serve(t testing.TB, root, token string) string {
	t.Helper()
	return serve(t, root, token, false).URL
}

// ServeTLS is Serve over HTTPS (httptest's certificate for 127.0.0.1),
// returning the URL and the certificate a client must trust.
func ServeTLS(t testing.TB, root, token string) (string, *x509.Certificate) {
	t.Helper()
	srv := serve(t, root, token, true)
	return srv.URL, srv.Certificate()
}

func serve(t testing.TB, root, token string, tls bool) *httptest.Server {
	t.Helper()
	backend := &cgi.Handler{
		Path: filepath.Join(Git(t, root, "--exec-path"), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1"},
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pass, ok := r.BasicAuth(); token != "" && (!ok || subtle.ConstantTimeCompare([]byte(pass), []byte(token)) != 1) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}
