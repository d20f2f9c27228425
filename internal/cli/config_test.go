package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berthdev/berth/pkg/api"
)

func TestConfigPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		env  map[string]string
		want string
	}{
		{desc: "BERTH_CONFIG wins", env: map[string]string{"BERTH_CONFIG": "/a/c.yaml", "XDG_CONFIG_HOME": "/x", "HOME": "/h"}, want: "/a/c.yaml"},
		{desc: "XDG_CONFIG_HOME", env: map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, want: "/x/berth/config.yaml"},
		{desc: "HOME", env: map[string]string{"HOME": "/h"}, want: "/h/.config/berth/config.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := configPath(func(k string) string { return tt.env[k] })
			if err != nil || got != tt.want {
				t.Errorf("configPath = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestConfigRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "config.yaml")
	c, err := loadConfig(path)
	if err != nil || len(c.Contexts) != 0 {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
	c.Set(Context{Name: "b", URL: "http://b", Token: "tb"})
	c.Set(Context{Name: "a", URL: "http://a", Token: "ta"})
	c.Set(Context{Name: "b", URL: "http://b2", Token: "tb2"}) // replaces
	c.CurrentContext = "b"
	if err := saveConfig(path, c); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600 (the file holds tokens)", fi.Mode().Perm())
	}
	got, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentContext != "b" || len(got.Contexts) != 2 || got.Contexts[0].Name != "a" ||
		got.Contexts[1].URL != "http://b2" || got.Contexts[1].Token != "tb2" {
		t.Errorf("read back %+v", got)
	}

	if err := os.WriteFile(path, []byte("contexts: [{name: a, urll: x}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(path); err == nil || !strings.Contains(err.Error(), "fix or remove the file") {
		t.Errorf("bad file: err = %v", err)
	}
}

// fakeServer answers GET /api/v1/apps (and /version) and records the
// Authorization header of each call. A unit-test fake: the integration
// test uses the real API.
type fakeServer struct {
	*httptest.Server
	token string
	mu    sync.Mutex
	auth  []string
}

func newFakeServer(t *testing.T, token string) *fakeServer {
	t.Helper()
	f := &fakeServer{token: token}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/v1/version" {
			_ = json.NewEncoder(w).Encode(api.Version{Version: "v9.9.9", GoVersion: "go1.26.8"})
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: api.Error{Code: api.CodeUnauthorized, Message: "invalid token"}})
			return
		}
		_ = json.NewEncoder(w).Encode([]api.App{{Name: "shop", TargetRelease: 1, CreatedAt: testNow}})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) lastAuth() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.auth) == 0 {
		return ""
	}
	return f.auth[len(f.auth)-1]
}

func TestLoginAndContexts(t *testing.T) {
	t.Parallel()
	a := newFakeServer(t, "token-a")
	b := newFakeServer(t, "token-b")
	env := testEnv(t)
	path := filepath.Join(env["XDG_CONFIG_HOME"], "berth", "config.yaml")

	// A wrong token is refused and nothing is saved.
	res := runCLI(t, env, "login", a.URL, "--token", "wrong")
	if res.code != ExitFailure || !strings.Contains(res.stderr, "rejected the token") {
		t.Fatalf("bad token: code %d, stderr %q", res.code, res.stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("config written after a failed login: %v", err)
	}

	res = runCLI(t, env, "login", a.URL+"/", "--token", "token-a")
	if res.code != 0 {
		t.Fatalf("login a: code %d, stderr %q", res.code, res.stderr)
	}
	hostA := strings.TrimPrefix(a.URL, "http://")
	if !strings.Contains(res.stdout, `saved as context "`+hostA+`"`) {
		t.Errorf("login a: stdout %q", res.stdout)
	}
	res = runCLI(t, env, "login", b.URL, "--context", "bee", "--token", "token-b")
	if res.code != 0 {
		t.Fatalf("login b: code %d, stderr %q", res.code, res.stderr)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config file: %v, %v", fi, err)
	}

	// The last login is current; commands use its token.
	res = runCLI(t, env, "apps")
	if res.code != 0 || !strings.Contains(res.stdout, "shop") || b.lastAuth() != "Bearer token-b" {
		t.Errorf("apps on b: code %d, stdout %q, stderr %q, auth %q", res.code, res.stdout, res.stderr, b.lastAuth())
	}
	res = runCLI(t, env, "context", "list")
	// Sorted by name: "127.0.0.1:..." before "bee".
	want := "CURRENT  NAME             URL\n         " + hostA + "  " + a.URL + "\n*        bee              " + b.URL + "\n"
	if res.stdout != want {
		t.Errorf("context list:\n%s\nwant:\n%s", res.stdout, want)
	}
	res = runCLI(t, env, "context", "list", "-o", "json")
	if strings.Contains(res.stdout, "token-") || !strings.Contains(res.stdout, `"current-context": "bee"`) {
		t.Errorf("context list -o json shows tokens or lacks the current context:\n%s", res.stdout)
	}

	// --context picks another context for one call.
	if res = runCLI(t, env, "--context", hostA, "apps"); res.code != 0 || a.lastAuth() != "Bearer token-a" {
		t.Errorf("--context: code %d, auth %q", res.code, a.lastAuth())
	}
	if res = runCLI(t, env, "context", "use", hostA); res.code != 0 {
		t.Fatalf("context use: %d %q", res.code, res.stderr)
	}
	if res = runCLI(t, env, "context", "current"); res.stdout != hostA+"\n" {
		t.Errorf("context current = %q", res.stdout)
	}

	// BERTH_TOKEN overrides the saved token; BERTH_URL pointing elsewhere
	// must not receive the saved token.
	env2 := map[string]string{"XDG_CONFIG_HOME": env["XDG_CONFIG_HOME"], "BERTH_TOKEN": "override"}
	if res = runCLI(t, env2, "apps"); res.code != ExitFailure || a.lastAuth() != "Bearer override" {
		t.Errorf("BERTH_TOKEN: code %d, auth %q", res.code, a.lastAuth())
	}
	if !strings.Contains(res.stderr, "the server rejected the token") || !strings.Contains(res.stderr, "again") {
		t.Errorf("401 message: %q", res.stderr)
	}
	env3 := map[string]string{"XDG_CONFIG_HOME": env["XDG_CONFIG_HOME"], "BERTH_URL": b.URL}
	if res = runCLI(t, env3, "apps"); res.code != ExitFailure || b.lastAuth() != "" {
		t.Errorf("BERTH_URL elsewhere: code %d, auth sent %q", res.code, b.lastAuth())
	}
	env4 := map[string]string{"BERTH_URL": b.URL, "BERTH_TOKEN": "token-b", "HOME": t.TempDir()}
	if res = runCLI(t, env4, "apps"); res.code != 0 {
		t.Errorf("env only: code %d, stderr %q", res.code, res.stderr)
	}

	res = runCLI(t, env, "version")
	if res.code != 0 || !strings.Contains(res.stdout, "Server: v9.9.9 (go1.26.8)") {
		t.Errorf("version: %d %q %q", res.code, res.stdout, res.stderr)
	}

	if res = runCLI(t, env, "context", "delete", hostA); res.code != 0 {
		t.Fatalf("context delete: %d %q", res.code, res.stderr)
	}
	if res = runCLI(t, env, "context", "current"); res.code != ExitFailure {
		t.Errorf("current after deleting it: %d %q", res.code, res.stdout)
	}
	if res = runCLI(t, env, "apps"); res.code != ExitFailure || !strings.Contains(res.stderr, "berth login") {
		t.Errorf("apps with no current context: %d %q", res.code, res.stderr)
	}
}

func TestLoginUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	res := runCLI(t, testEnv(t), "login", url, "--token", "x")
	if res.code != ExitFailure || !strings.Contains(res.stderr, "cannot reach") {
		t.Errorf("code %d, stderr %q", res.code, res.stderr)
	}
}
