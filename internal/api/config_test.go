package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/pkg/api"
)

// withSecrets gives the test server a secret store with a fresh key and a
// debug log collected in logs.
func withSecrets(t *testing.T, ts **testServer, logs *lockedBuffer) func(*Deps) {
	return func(d *Deps) {
		key, err := secrets.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		ring, err := secrets.NewKeyring(key)
		if err != nil {
			t.Fatal(err)
		}
		d.Secrets = secretstore.New(d.Store, ring)
		d.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

func releaseCount(t *testing.T, ts *testServer, app string) int {
	t.Helper()
	var rels []api.Release
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/apps/"+app+"/releases", nil, &rels)
	return len(rels)
}

func TestConfigSetVersionsRollAndRollback(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)

	var cs api.ConfigSet
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/apps/shop/config", nil, &cs)
	if cs.Version != 0 || len(cs.Entries) != 0 || cs.Env != api.DefaultConfigEnv {
		t.Fatalf("config before any write = %+v, want empty version 0 of env default", cs)
	}

	set := func(u api.ConfigUpdate) api.ConfigChange {
		t.Helper()
		var ch api.ConfigChange
		ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apps/shop/config", u, &ch)
		return ch
	}
	ch := set(api.ConfigUpdate{Set: map[string]string{"LOG_LEVEL": "debug"}, Files: map[string]string{"app.toml": "a = 1\n"}, Comment: "first"})
	if ch.Config == nil || ch.Config.Version != 1 || ch.Release != 2 {
		t.Fatalf("first set = %+v, want version 1 rolled by release 2", ch)
	}
	var rel api.Release
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/apps/shop/releases/2", nil, &rel)
	if rel.Cause != "config" || rel.Config == nil || rel.Config.Version != 1 || rel.Config.Env != api.DefaultConfigEnv {
		t.Errorf("release 2 = cause %q config %+v, want cause config and config version 1", rel.Cause, rel.Config)
	}
	if ch := set(api.ConfigUpdate{Set: map[string]string{"LOG_LEVEL": "debug"}}); ch.Config.Version != 1 || ch.Release != 0 {
		t.Errorf("unchanged set = %+v, want version 1 and no release", ch)
	}
	if ch := set(api.ConfigUpdate{Set: map[string]string{"LOG_LEVEL": "info", "NEW": "x"}}); ch.Config.Version != 2 || ch.Release != 3 {
		t.Errorf("second set = %+v, want version 2, release 3", ch)
	}

	var hist []api.ConfigSetSummary
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/apps/shop/config/history", nil, &hist)
	if len(hist) != 2 || hist[0].Comment != "first" || hist[1].Keys != 2 || hist[0].Files != 1 {
		t.Errorf("history = %+v", hist)
	}
	var d api.ConfigDiff
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/apps/shop/config/diff", nil, &d)
	want := []api.ConfigDiffEntry{
		{Kind: "entry", Name: "LOG_LEVEL", Op: "changed", Old: "debug", New: "info"},
		{Kind: "entry", Name: "NEW", Op: "added", New: "x"},
	}
	if d.From != 1 || d.To != 2 || fmt.Sprint(d.Changes) != fmt.Sprint(want) {
		t.Errorf("diff = %+v, want 1 -> 2 %+v", d, want)
	}

	var rb api.ConfigChange
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apps/shop/config/rollback", api.ConfigRollbackRequest{}, &rb)
	if rb.Config.Version != 3 || rb.Config.RollbackOf != 1 || rb.Config.Entries["LOG_LEVEL"] != "debug" || rb.Config.Files["app.toml"] != "a = 1\n" || rb.Release != 4 {
		t.Errorf("rollback = %+v (config %+v), want version 3 copying 1, release 4", rb, rb.Config)
	}
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/apps/shop/config?version=2", nil, &cs)
	if cs.Entries["LOG_LEVEL"] != "info" {
		t.Errorf("version 2 changed after rollback: %+v", cs)
	}
	// Applying the same spec again changes nothing: spec and config equal.
	var ar api.ApplyResponse
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: specV1}, &ar)
	if ar.Created || ar.Release != 4 {
		t.Errorf("re-apply = %+v, want release 4 not created", ar)
	}
	// Another environment's set is stored apart and rolls nothing.
	var prod api.ConfigChange
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apps/shop/config", api.ConfigUpdate{Env: "prod", Set: map[string]string{"A": "b"}}, &prod)
	if prod.Config.Version != 1 || prod.Config.Env != "prod" || prod.Release != 0 {
		t.Errorf("prod set = %+v", prod)
	}
}

func TestConfigBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apps/shop/config", api.ConfigUpdate{Set: map[string]string{"A": "1"}}, nil)
	tests := []struct {
		desc  string
		path  string
		body  any
		field string
	}{
		{desc: "empty key", body: api.ConfigUpdate{Set: map[string]string{"": "x"}}, field: `set[""]`},
		{desc: "bad key", body: api.ConfigUpdate{Set: map[string]string{"9LIVES": "x"}}, field: "set.9LIVES"},
		{desc: "reserved key", body: api.ConfigUpdate{Set: map[string]string{"BERTH_APP": "x"}}, field: "set.BERTH_APP"},
		{desc: "too large value", body: api.ConfigUpdate{Set: map[string]string{"BIG": strings.Repeat("v", maxConfigValueLen+1)}}, field: "set.BIG"},
		{desc: "NUL in value", body: api.ConfigUpdate{Set: map[string]string{"N": "a\x00b"}}, field: "set.N"},
		{desc: "file name with a path", body: api.ConfigUpdate{Files: map[string]string{"../etc/passwd": "x"}}, field: "files.../etc/passwd"},
		{desc: "too large file", body: api.ConfigUpdate{Files: map[string]string{"f": strings.Repeat("x", maxConfigFileBytes+1)}}, field: "files.f"},
		{desc: "unset what is not set", body: api.ConfigUpdate{Unset: []string{"NOPE"}}, field: "unset[0]"},
		{desc: "remove a file that is not there", body: api.ConfigUpdate{RemoveFiles: []string{"x.conf"}}, field: "remove_files[0]"},
		{desc: "nothing to change", body: api.ConfigUpdate{Comment: "hi"}, field: "set"},
		{desc: "bad env", body: api.ConfigUpdate{Env: "Prod!", Set: map[string]string{"A": "2"}}, field: "env"},
		{desc: "rollback to a missing version", path: "/api/v1/apps/shop/config/rollback", body: api.ConfigRollbackRequest{To: -1}, field: "to"},
		{desc: "rollback with one version only", path: "/api/v1/apps/shop/config/rollback", body: api.ConfigRollbackRequest{}, field: "to"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/api/v1/apps/shop/config"
			}
			status, b := ts.call(t, http.MethodPost, path, tc.body)
			if status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", status, b)
			}
			e := decodeError(t, b)
			found := false
			for _, d := range e.Details {
				found = found || d.Field == tc.field
			}
			if !found || e.Code != api.CodeInvalid {
				t.Errorf("error %+v does not name field %q", e, tc.field)
			}
		})
	}
	var cs api.ConfigSet
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/apps/shop/config", nil, &cs)
	if cs.Version != 1 || len(cs.Entries) != 1 {
		t.Errorf("after bad input the config is %+v, want version 1 unchanged", cs)
	}
	if n := releaseCount(t, ts, "shop"); n != 2 {
		t.Errorf("%d releases after bad input, want 2", n)
	}
	if status, b := ts.call(t, http.MethodGet, "/api/v1/apps/nope/config", nil); status != http.StatusNotFound {
		t.Errorf("config of a missing app: %d %s", status, b)
	}
}

const secretSpec = `name: shop
services:
  web:
    command: [./web]
    secrets: [DB_PASSWORD]
`

func TestSecretsNeverReturnedAndRollTheApp(t *testing.T) {
	t.Parallel()
	const canary = "canary-api-4e2f9d-Pp"
	var ts *testServer
	logs := &lockedBuffer{}
	ts = newTestServer(t, withSecrets(t, &ts, logs))
	var bodies [][]byte
	call := func(want int, method, path string, body any) []byte {
		t.Helper()
		status, b := ts.call(t, method, path, body)
		bodies = append(bodies, b)
		if status != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, b)
		}
		return b
	}
	call(http.StatusOK, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: secretSpec})
	var rel api.Release
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/apps/shop/releases/1", nil, &rel)
	if rel.Config == nil || rel.Config.Secrets["DB_PASSWORD"] != 0 {
		t.Errorf("release 1 config = %+v, want DB_PASSWORD at version 0 (not set)", rel.Config)
	}

	var ch api.ConfigChange
	b := call(http.StatusCreated, http.MethodPut, "/api/v1/apps/shop/secrets/DB_PASSWORD", api.SecretValue{Value: canary})
	mustDecode(t, b, &ch)
	if ch.Secret == nil || ch.Secret.Version != 1 || ch.Release != 2 {
		t.Errorf("create = %+v, want version 1 rolled by release 2", ch)
	}
	b = call(http.StatusOK, http.MethodPut, "/api/v1/apps/shop/secrets/DB_PASSWORD", api.SecretValue{Value: canary + "-2"})
	mustDecode(t, b, &ch)
	if ch.Secret.Version != 2 || ch.Release != 3 {
		t.Errorf("replace = %+v, want version 2 rolled by release 3", ch)
	}
	b = call(http.StatusCreated, http.MethodPut, "/api/v1/apps/shop/secrets/UNUSED", api.SecretValue{Value: "unused-value"})
	ch = api.ConfigChange{}
	mustDecode(t, b, &ch)
	if ch.Release != 0 {
		t.Errorf("a secret no service names rolled the app: %+v", ch)
	}
	var list []api.Secret
	mustDecode(t, call(http.StatusOK, http.MethodGet, "/api/v1/apps/shop/secrets", nil), &list)
	if len(list) != 2 || list[0].Name != "DB_PASSWORD" || list[0].Version != 2 || list[1].Name != "UNUSED" {
		t.Errorf("list = %+v", list)
	}
	mustDecode(t, call(http.StatusOK, http.MethodGet, "/api/v1/apps/shop/releases/3", nil), &rel)
	if rel.Cause != "secret" || rel.Config.Secrets["DB_PASSWORD"] != 2 {
		t.Errorf("release 3 = cause %q config %+v", rel.Cause, rel.Config)
	}

	// Bad input names the field, never echoes the value, changes nothing.
	for _, tc := range []struct {
		desc, name, value, field string
	}{
		{desc: "bad name", name: "9BAD", value: canary, field: "name"},
		{desc: "reserved name", name: "BERTH_X", value: canary, field: "name"},
		{desc: "empty value", name: "DB_PASSWORD", value: "", field: "value"},
		{desc: "too large value", name: "DB_PASSWORD", value: canary + strings.Repeat("x", maxSecretValueLen), field: "value"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			b := call(http.StatusUnprocessableEntity, http.MethodPut, "/api/v1/apps/shop/secrets/"+tc.name, api.SecretValue{Value: tc.value})
			e := decodeError(t, b)
			if len(e.Details) != 1 || e.Details[0].Field != tc.field {
				t.Errorf("error %+v, want field %s", e, tc.field)
			}
		})
	}
	b = call(http.StatusConflict, http.MethodDelete, "/api/v1/apps/shop/secrets/DB_PASSWORD", nil)
	if !strings.Contains(string(b), "used by service web") {
		t.Errorf("deleting a secret in use: %s", b)
	}
	call(http.StatusNoContent, http.MethodDelete, "/api/v1/apps/shop/secrets/UNUSED", nil)
	call(http.StatusNotFound, http.MethodDelete, "/api/v1/apps/shop/secrets/UNUSED", nil)
	call(http.StatusNotFound, http.MethodPut, "/api/v1/apps/nope/secrets/A", api.SecretValue{Value: canary})
	mustDecode(t, call(http.StatusOK, http.MethodGet, "/api/v1/apps/shop/secrets", nil), &list)
	if len(list) != 1 || list[0].Version != 2 {
		t.Errorf("after bad input and removal: %+v", list)
	}
	if n := releaseCount(t, ts, "shop"); n != 3 {
		t.Errorf("%d releases, want 3", n)
	}
	call(http.StatusOK, http.MethodGet, "/api/v1/apps/shop", nil)
	call(http.StatusOK, http.MethodGet, "/api/v1/apps/shop/releases", nil)

	for i, b := range bodies {
		if bytes.Contains(b, []byte(canary)) {
			t.Errorf("response %d holds the secret: %s", i, b)
		}
	}
	if strings.Contains(logs.String(), canary) {
		t.Errorf("the server log holds the secret:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "secret set") {
		t.Errorf("the log was not collected: %q", logs)
	}
	dbFiles, _ := filepath.Glob(filepath.Join(ts.dir, "berth.db*"))
	if len(dbFiles) < 2 {
		t.Fatalf("database files = %v, want the file and its WAL", dbFiles)
	}
	for _, p := range dbFiles {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(canary)) {
			t.Errorf("%s holds the secret in plaintext", filepath.Base(p))
		}
	}
}

func TestSecretsWithoutMasterKey(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)
	status, b := ts.call(t, http.MethodPut, "/api/v1/apps/shop/secrets/A", api.SecretValue{Value: "x"})
	if status != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503: %s", status, b)
	}
}

func mustDecode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// Entries become every instance's environment, which an exec refuses past
// 2 MiB: a set that would outgrow the bound is a 422 naming "set", with
// nothing stored, even when each request and value is within its limits.
func TestConfigEntriesBoundedInTotal(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)
	batch := func(prefix string) api.ConfigUpdate {
		u := api.ConfigUpdate{Set: map[string]string{}}
		for i := range 10 {
			u.Set[fmt.Sprintf("%s_%d", prefix, i)] = strings.Repeat("v", maxConfigValueLen-64)
		}
		return u
	}
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apps/shop/config", batch("A"), nil)
	status, b := ts.call(t, http.MethodPost, "/api/v1/apps/shop/config", batch("B"))
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("a config set of %d KiB of entries: status %d, want 422: %.300s", 20*maxConfigValueLen>>10, status, b)
	}
	if e := decodeError(t, b); len(e.Details) != 1 || e.Details[0].Field != "set" {
		t.Errorf("error %+v, want one detail naming set", e)
	}
	var cs api.ConfigSet
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/apps/shop/config", nil, &cs)
	if cs.Version != 1 || len(cs.Entries) != 10 {
		t.Errorf("after the refused write: version %d with %d entries, want version 1 with 10", cs.Version, len(cs.Entries))
	}
}

// TestSecretInUseByServingReleaseStays: while the target release (which no
// longer names the secret) rolls out, the release still serving does; its
// next instance start needs the secret, so removing it is refused until
// the target serves.
func TestSecretInUseByServingReleaseStays(t *testing.T) {
	t.Parallel()
	var ts *testServer
	ts = newTestServer(t, withSecrets(t, &ts, &lockedBuffer{}))
	ctx := t.Context()
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: secretSpec}, nil)
	ts.mustCall(t, http.StatusCreated, http.MethodPut, "/api/v1/apps/shop/secrets/DB_PASSWORD", api.SecretValue{Value: "in-use-value"}, nil)
	noSecret := strings.Replace(secretSpec, "    secrets: [DB_PASSWORD]\n", "", 1)
	var applied api.ApplyResponse
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: noSecret}, &applied)
	serve := func(n int) {
		t.Helper()
		a, err := ts.db.GetApp(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		a.Status.Serving = n
		if _, err := ts.db.UpdateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	serve(applied.Release - 1) // the reconciler has not moved traffic yet
	status, b := ts.call(t, http.MethodDelete, "/api/v1/apps/shop/secrets/DB_PASSWORD", nil)
	if status != http.StatusConflict || !strings.Contains(string(b), fmt.Sprintf("of release %d", applied.Release-1)) {
		t.Fatalf("delete while the serving release names it: %d %s, want 409 naming release %d", status, b, applied.Release-1)
	}
	serve(applied.Release)
	ts.mustCall(t, http.StatusNoContent, http.MethodDelete, "/api/v1/apps/shop/secrets/DB_PASSWORD", nil, nil)
}
