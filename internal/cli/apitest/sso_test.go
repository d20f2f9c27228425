package apitest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiserver "github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/identity/oidclogin"
	"github.com/berthdev/berth/internal/identity/oidctest"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// TestLoginSSO: `berth login --sso` against a server whose SSO is a real
// provider in process; the test plays the browser the CLI opens.
func TestLoginSSO(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := apiserver.EnsureAdminToken(ctx, db, dir, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	cb := base + "/api/v1/auth/oidc/callback"
	p := oidctest.Start(t, []string{"devs"}, cb)
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sso, err := oidclogin.New(octx, oidclogin.Config{Issuer: p.Issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret,
		RedirectURL: cb, GroupRoles: []oidclogin.GroupRole{{Group: "devs", Team: "default", Role: "developer"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = apiserver.New(apiserver.Deps{Store: db, OIDC: sso})
	srv.Start()
	t.Cleanup(srv.Close)

	config := t.TempDir()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	opened := ""
	browsed := make(chan struct{})
	var out, errOut bytes.Buffer
	code := cli.Execute(ctx, []string{"login", base, "--sso", "--context", "corp"}, cli.Options{
		Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return map[string]string{"XDG_CONFIG_HOME": config}[k] },
		OpenBrowser: func(u string) error {
			opened = u
			// The browser signs in while the CLI waits for it.
			go func() {
				defer close(browsed)
				resp, body := p.SignIn(t, browser, u)
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "logged in") {
					t.Errorf("browser ended at %s %s: %s", resp.Request.URL, resp.Status, body)
				}
			}()
			return nil
		},
	})
	<-browsed
	if code != 0 {
		t.Fatalf("login --sso: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(opened, "cli_challenge=") || !strings.Contains(errOut.String(), opened) {
		t.Fatalf("opened %q; stderr %s", opened, errOut.String())
	}
	cfg, err := os.ReadFile(filepath.Join(config, "berth", "config.yaml"))
	if err != nil || !strings.Contains(string(cfg), "berth_pat_") {
		t.Fatalf("saved config %s, %v", cfg, err)
	}
	out.Reset()
	code = cli.Execute(ctx, []string{"whoami"}, cli.Options{Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return map[string]string{"XDG_CONFIG_HOME": config}[k] }})
	if code != 0 || !strings.Contains(squeeze(out.String()), "default developer") {
		t.Fatalf("whoami after SSO: %d %s %s", code, out.String(), errOut.String())
	}
}
