package apitest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiserver "github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

// secretEnv is an API with a secret store, and a CLI run with a given
// standard input and environment.
type secretEnv struct {
	t      *testing.T
	url    string
	token  string
	db     *sqlite.DB
	config string
}

func newSecretEnv(t *testing.T) *secretEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.DiscardHandler)
	if _, err := apiserver.EnsureAdminToken(ctx, db, dir, time.Now(), logger); err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, apiserver.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apiserver.New(apiserver.Deps{Store: db, Blobs: blobs, Logger: logger, Secrets: secretstore.New(db, ring)}))
	t.Cleanup(srv.Close)
	e := &secretEnv{t: t, url: srv.URL, token: strings.TrimSpace(string(tok)), db: db, config: t.TempDir()}
	if res := e.run("", nil, "apply", "--wait=false", "-f", writeSpec(t, shopSpec)); res.code != 0 {
		t.Fatalf("apply: %+v", res)
	}
	return e
}

func writeSpec(t *testing.T, spec string) string {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"berth.yaml": spec, "bin/web": "#!/bin/sh\n"})
	return dir
}

func (e *secretEnv) run(stdin string, env map[string]string, args ...string) result {
	e.t.Helper()
	all := map[string]string{"XDG_CONFIG_HOME": e.config, "BERTH_URL": e.url, "BERTH_TOKEN": e.token}
	for k, v := range env {
		all[k] = v
	}
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), args, cli.Options{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return all[k] },
	})
	return result{code, out.String(), errOut.String()}
}

func TestSecretSetInputs(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t)
	file := filepath.Join(t.TempDir(), "pem")
	if err := os.WriteFile(file, []byte("-----BEGIN-----\nabc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc    string
		stdin   string
		env     map[string]string
		args    []string
		code    int
		version int64
		out     string
	}{
		{desc: "stdin, newline dropped", stdin: "s3cret-value\n", args: []string{"DB_PASSWORD"}, code: 0, version: 1, out: "secret DB_PASSWORD of shop is at version 1"},
		{desc: "from env", env: map[string]string{"PW": "from-env-value"}, args: []string{"DB_PASSWORD", "--from-env", "PW"}, code: 0, version: 2},
		{desc: "from file, kept byte for byte", args: []string{"TLS_KEY", "--from-file", file}, code: 0, version: 1},
		{desc: "empty stdin", args: []string{"EMPTY"}, code: 2, out: "no value on standard input"},
		{desc: "unset variable", args: []string{"X", "--from-env", "NOPE"}, code: 2, out: "NOPE is not set"},
		{desc: "both sources", args: []string{"X", "--from-env", "PW", "--from-file", file}, code: 2},
		{desc: "missing file", args: []string{"X", "--from-file", "/nonexistent/file"}, code: 2},
		{desc: "bad name from the server", stdin: "v", args: []string{"bad-name"}, code: 2, out: "name:"},
		{desc: "missing app", stdin: "v", args: []string{"X"}, code: 1, out: `app "nope" not found`},
	}
	for _, tc := range tests {
		app := "shop"
		if strings.Contains(tc.desc, "missing app") {
			app = "nope"
		}
		res := e.run(tc.stdin, tc.env, append([]string{"secret", "set", app}, tc.args...)...)
		if res.code != tc.code || !strings.Contains(res.stdout+res.stderr, tc.out) {
			t.Errorf("%s: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.desc, res.code, tc.code, tc.out, res.stdout, res.stderr)
			continue
		}
		if tc.code == 0 {
			s, err := e.db.GetSecret(t.Context(), "shop", tc.args[0])
			if err != nil || s.Version != tc.version {
				t.Errorf("%s: stored %+v %v, want version %d", tc.desc, s, err, tc.version)
			}
		}
	}
	res := e.run("", nil, "secret", "list", "shop")
	if res.code != 0 || !strings.Contains(squeeze(res.stdout), "DB_PASSWORD 2") || strings.Contains(res.stdout, "s3cret") {
		t.Errorf("secret list: %+v", res)
	}
	if res := e.run("", nil, "secret", "rm", "shop", "TLS_KEY"); res.code != 0 {
		t.Errorf("secret rm: %+v", res)
	}
	if res := e.run("", nil, "secret", "rm", "shop", "TLS_KEY"); res.code != 1 {
		t.Errorf("secret rm twice: %+v", res)
	}
}

func TestConfigCommands(t *testing.T) {
	t.Parallel()
	e := newSecretEnv(t)
	file := filepath.Join(t.TempDir(), "app.toml")
	if err := os.WriteFile(file, []byte("a = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		desc string
		args []string
		code int
		out  string
	}{
		{desc: "get before any", args: []string{"config", "get", "shop"}, code: 0, out: "No config for shop (default) yet"},
		{desc: "set", args: []string{"config", "set", "shop", "LOG=debug", "URL=http://x?a=b", "--file", "app.toml=" + file, "-m", "first"}, code: 0, out: "config shop (default) is at version 1"},
		{desc: "set again", args: []string{"config", "set", "shop", "LOG=info", "--unset", "URL"}, code: 0, out: "version 2"},
		{desc: "get", args: []string{"config", "get", "shop"}, code: 0, out: "LOG info"},
		{desc: "get a version", args: []string{"config", "get", "shop", "--version", "1"}, code: 0, out: "URL http://x?a=b"},
		{desc: "history", args: []string{"config", "history", "shop"}, code: 0, out: "1 2 1"},
		{desc: "diff", args: []string{"config", "diff", "shop"}, code: 0, out: "~ LOG: debug -> info"},
		{desc: "diff from 0", args: []string{"config", "diff", "shop", "0", "1", "-o", "json"}, code: 0, out: `"op": "added"`},
		{desc: "rollback", args: []string{"config", "rollback", "shop", "--to", "1"}, code: 0, out: "version 3"},
		{desc: "not KEY=VALUE", args: []string{"config", "set", "shop", "LOG"}, code: 2, out: `"LOG" is not KEY=VALUE`},
		{desc: "empty key", args: []string{"config", "set", "shop", "=x"}, code: 2, out: `set[""]`},
		{desc: "nothing", args: []string{"config", "set", "shop"}, code: 2, out: "nothing to change"},
		{desc: "bad file flag", args: []string{"config", "set", "shop", "--file", "x"}, code: 2, out: "NAME=PATH"},
		{desc: "bad version", args: []string{"config", "diff", "shop", "x"}, code: 2, out: "FROM must be a version"},
		{desc: "missing app", args: []string{"config", "get", "nope"}, code: 1, out: `app "nope" not found`},
	}
	for _, st := range steps {
		res := e.run("", nil, st.args...)
		if res.code != st.code || !strings.Contains(squeeze(res.stdout+res.stderr), st.out) {
			t.Fatalf("%s: berth %s: exit %d, want %d with %q\nstdout: %s\nstderr: %s", st.desc, strings.Join(st.args, " "), res.code, st.code, st.out, res.stdout, res.stderr)
		}
	}
	latest, err := e.db.LatestConfigVersion(t.Context(), "shop", api.DefaultConfigEnv)
	if err != nil || latest.Version != 3 || latest.Entries["LOG"] != "debug" || latest.Files["app.toml"] != "a = 1\n" {
		t.Errorf("latest = %+v %v", latest, err)
	}
}
