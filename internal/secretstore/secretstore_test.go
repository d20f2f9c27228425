package secretstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

const canary = "canary-5f1d2c-value-Zq9"

type fixture struct {
	db   *sqlite.DB
	path string
	key  secrets.Key
	ss   *secretstore.Store
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, path: path, key: key, ss: secretstore.New(db, ring)}
}

func (f *fixture) app(t testing.TB, name, team string) {
	t.Helper()
	now := time.Now().UTC()
	if err := f.db.CreateApp(t.Context(), store.App{Name: name, Team: team, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) set(t testing.TB, team, app, name, value string) {
	t.Helper()
	env, keyID, err := f.ss.Seal(team, app, name, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := f.db.CreateSecret(t.Context(), store.Secret{Team: team, App: app, Name: name, Envelope: env, KeyID: keyID, Version: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

// update sets a new value of an existing secret (its next version).
func (f *fixture) update(t testing.TB, team, app, name, value string) {
	t.Helper()
	row, err := f.db.GetSecret(t.Context(), app, name)
	if err != nil {
		t.Fatal(err)
	}
	if row.Envelope, row.KeyID, err = f.ss.Seal(team, app, name, []byte(value)); err != nil {
		t.Fatal(err)
	}
	row.UpdatedAt = time.Now().UTC()
	if _, err := f.db.UpdateSecret(t.Context(), row); err != nil {
		t.Fatal(err)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.app(t, "shop", "team_a")
	f.set(t, "team_a", "shop", "DB_PASSWORD", canary)
	f.set(t, "team_a", "shop", "API_KEY", "k-123456")

	tests := []struct {
		desc    string
		team    string
		app     string
		names   []string
		want    map[string]string
		wantErr error
		errHas  string
	}{
		{desc: "named secrets", team: "team_a", app: "shop", names: []string{"DB_PASSWORD", "API_KEY"},
			want: map[string]string{"DB_PASSWORD": canary, "API_KEY": "k-123456"}},
		{desc: "no names", team: "team_a", app: "shop", want: map[string]string{}},
		{desc: "unknown names are named", team: "team_a", app: "shop", names: []string{"DB_PASSWORD", "NOPE", "ALSO_NOPE"},
			wantErr: secretstore.ErrUnknown, errHas: "ALSO_NOPE, NOPE"},
		{desc: "another team's app", team: "team_b", app: "shop", names: []string{"DB_PASSWORD"}, wantErr: secretstore.ErrNoApp},
		{desc: "missing app", team: "team_a", app: "blog", names: []string{"DB_PASSWORD"}, wantErr: secretstore.ErrNoApp},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := f.ss.Resolve(t.Context(), tc.team, tc.app, tc.names)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want %v naming %q", err, tc.wantErr, tc.errHas)
				}
				if strings.Contains(err.Error(), canary) {
					t.Fatalf("error leaks the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d values, want %d", len(got), len(tc.want))
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: wrong value", k)
				}
			}
		})
	}
}

// A ciphertext copied to another app's row, or renamed, does not decrypt.
func TestMovedCiphertextFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "shop", "team_a")
	f.app(t, "blog", "team_b")
	f.set(t, "team_a", "shop", "DB_PASSWORD", canary)
	f.set(t, "team_b", "blog", "DB_PASSWORD", "blog-value")
	src, err := f.db.GetSecret(ctx, "shop", "DB_PASSWORD")
	if err != nil {
		t.Fatal(err)
	}
	// Into another team's app, team column included.
	dst, err := f.db.GetSecret(ctx, "blog", "DB_PASSWORD")
	if err != nil {
		t.Fatal(err)
	}
	dst.Envelope, dst.Team = src.Envelope, src.Team
	if _, err := f.db.UpdateSecret(ctx, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ss.Resolve(ctx, "team_b", "blog", []string{"DB_PASSWORD"}); !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("moved to another app: err = %v, want ErrDecrypt", err)
	}
	// Under another name of the same app.
	renamed := src
	renamed.Name = "OTHER"
	if err := f.db.CreateSecret(ctx, renamed); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ss.Resolve(ctx, "team_a", "shop", []string{"OTHER"}); !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("renamed: err = %v, want ErrDecrypt", err)
	}
	// The original still opens.
	if got, err := f.ss.Resolve(ctx, "team_a", "shop", []string{"DB_PASSWORD"}); err != nil || got["DB_PASSWORD"] != canary {
		t.Errorf("original: err = %v", err)
	}
}

func TestRotateKeepsEverySecretReadable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "shop", "team_a")
	f.app(t, "legacy", "") // an app from before teams
	want := map[string]map[string]string{
		"shop":   {"A": canary, "B": "second-value", "PEM": "-----BEGIN-----\nabc\n-----END-----"},
		"legacy": {"A": "legacy-value"},
	}
	for app, vals := range want {
		team := "team_a"
		if app == "legacy" {
			team = ""
		}
		for n, v := range vals {
			f.set(t, team, app, n, v)
		}
	}
	// An earlier version a release may still run with: shop's A is now
	// at version 2.
	want["shop"]["A"] = "a-second-value"
	f.update(t, "team_a", "shop", "A", want["shop"]["A"])
	before, err := f.db.ListSecrets(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	oldRing, err := secrets.NewKeyring(f.key)
	if err != nil {
		t.Fatal(err)
	}
	n, err := secretstore.Rotate(ctx, f.db, oldRing, newKey)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("rotated %d secrets, want 4", n)
	}
	after, err := f.db.ListSecrets(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range after {
		if s.KeyID != newKey.ID() || s.Version != before[i].Version || s.Envelope == before[i].Envelope {
			t.Errorf("%s/%s: key %s version %d (was %d), envelope changed %v", s.App, s.Name, s.KeyID, s.Version, before[i].Version, s.Envelope != before[i].Envelope)
		}
	}
	// Only the new key is needed now.
	newRing, err := secrets.NewKeyring(newKey)
	if err != nil {
		t.Fatal(err)
	}
	ss := secretstore.New(f.db, newRing)
	for app, vals := range want {
		team := "team_a"
		if app == "legacy" {
			team = ""
		}
		names := make([]string, 0, len(vals))
		for n := range vals {
			names = append(names, n)
		}
		got, err := ss.Resolve(ctx, team, app, names)
		if err != nil {
			t.Fatalf("%s after rotation: %v", app, err)
		}
		for n, v := range vals {
			if got[n] != v {
				t.Errorf("%s/%s: wrong value after rotation", app, n)
			}
		}
	}
	// Every kept version moved to the new key and still opens.
	vers, err := f.db.ListSecretVersions(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(vers) != 5 {
		t.Errorf("kept versions = %d, want 5", len(vers))
	}
	for _, v := range vers {
		if v.KeyID != newKey.ID() {
			t.Errorf("%s/%s version %d still on key %s", v.App, v.Name, v.Version, v.KeyID)
		}
	}
	if got, err := ss.ResolveVersions(ctx, "team_a", "shop", []string{"A"}, map[string]int64{"A": 1}); err != nil || got["A"] != canary {
		t.Errorf("version 1 after rotation with the new key alone: %v", err)
	}
	// The old key alone no longer opens them; a second run changes nothing.
	if _, err := secretstore.New(f.db, oldRing).Resolve(ctx, "team_a", "shop", []string{"A"}); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Errorf("old key after rotation: err = %v, want ErrUnknownKey", err)
	}
	both, err := secrets.NewKeyring(newKey, f.key)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := secretstore.Rotate(ctx, f.db, both, newKey); err != nil || n != 0 {
		t.Errorf("second rotation: %d, %v; want 0, nil", n, err)
	}
}

// The value is in no file of the database: not the main file, not the WAL.
func TestCanaryNotInDatabaseFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.app(t, "shop", "team_a")
	f.set(t, "team_a", "shop", "DB_PASSWORD", canary)
	if got, err := f.ss.Resolve(t.Context(), "team_a", "shop", []string{"DB_PASSWORD"}); err != nil || got["DB_PASSWORD"] != canary {
		t.Fatalf("resolve: %v", err)
	}
	checked := 0
	for _, p := range []string{f.path, f.path + "-wal", f.path + "-shm"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if bytes.Contains(b, []byte(canary)) {
			t.Errorf("%s holds the secret in plaintext", filepath.Base(p))
		}
	}
	if checked < 2 {
		t.Errorf("checked %d database files, want the file and its WAL", checked)
	}
}

// One secret that does not open (sealed for another row, or with a key not
// loaded) must not cost the masking of the others: Values returns every
// value that opens, and an error naming the ones that do not.
func TestValuesDespiteAnUnreadableSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "shop", "team_a")
	f.set(t, "team_a", "shop", "DB_PASSWORD", canary)
	moved, err := f.db.GetSecret(ctx, "shop", "DB_PASSWORD")
	if err != nil {
		t.Fatal(err)
	}
	moved.Name = "A_MOVED" // sorts first: its envelope is bound to DB_PASSWORD
	if err := f.db.CreateSecret(ctx, moved); err != nil {
		t.Fatal(err)
	}
	vals, err := f.ss.Values(ctx, "shop")
	if !errors.Is(err, secrets.ErrDecrypt) || !strings.Contains(err.Error(), "A_MOVED") {
		t.Errorf("Values error = %v, want ErrDecrypt naming A_MOVED", err)
	}
	if len(vals) != 1 || vals[0] != canary {
		t.Errorf("Values = %d values, want the one that opens", len(vals))
	}
	m, err := f.ss.Masker(ctx, "shop")
	if err == nil || m.Mask("pw="+canary) != "pw=***" {
		t.Errorf("Masker: err = %v; it must still mask the readable secret", err)
	}
}

// A release gets the versions it recorded, not what the secret holds now.
func TestResolveVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.app(t, "shop", "team_a")
	f.set(t, "team_a", "shop", "DB", "db-one")
	f.update(t, "team_a", "shop", "DB", "db-two")
	f.update(t, "team_a", "shop", "DB", "db-three")
	f.set(t, "team_a", "shop", "KEY", "key-one")

	tests := []struct {
		desc     string
		team     string
		names    []string
		versions map[string]int64
		want     map[string]string
		wantErr  error
		errHas   string
	}{
		{desc: "recorded versions", team: "team_a", names: []string{"DB", "KEY"},
			versions: map[string]int64{"DB": 1, "KEY": 1}, want: map[string]string{"DB": "db-one", "KEY": "key-one"}},
		{desc: "a middle version", team: "team_a", names: []string{"DB"},
			versions: map[string]int64{"DB": 2}, want: map[string]string{"DB": "db-two"}},
		{desc: "no versions recorded: current values", team: "team_a", names: []string{"DB"},
			want: map[string]string{"DB": "db-three"}},
		{desc: "version 0, set since: the first value set", team: "team_a", names: []string{"DB"},
			versions: map[string]int64{"DB": 0}, want: map[string]string{"DB": "db-one"}},
		{desc: "version 0, still not set", team: "team_a", names: []string{"NOPE"},
			versions: map[string]int64{"NOPE": 0}, wantErr: secretstore.ErrUnknown, errHas: "NOPE (version 1)"},
		{desc: "a version never set", team: "team_a", names: []string{"DB"},
			versions: map[string]int64{"DB": 9}, wantErr: secretstore.ErrUnknown, errHas: "DB (version 9)"},
		{desc: "another team's app", team: "team_b", names: []string{"DB"},
			versions: map[string]int64{"DB": 1}, wantErr: secretstore.ErrNoApp},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got, err := f.ss.ResolveVersions(t.Context(), tc.team, "shop", tc.names, tc.versions)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(fmt.Sprint(err), tc.errHas) {
					t.Fatalf("err = %v, want %v naming %q", err, tc.wantErr, tc.errHas)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// Earlier versions a release still runs with are masked beside the
// current values; others are not read.
func TestValuesWith(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.app(t, "shop", "team_a")
	f.set(t, "team_a", "shop", "DB", "db-one")
	f.update(t, "team_a", "shop", "DB", "db-two")
	f.update(t, "team_a", "shop", "DB", "db-three")
	tests := []struct {
		desc     string
		versions map[string][]int64
		want     []string
	}{
		{desc: "current only", want: []string{"db-three"}},
		{desc: "with version 1", versions: map[string][]int64{"DB": {1}}, want: []string{"db-one", "db-three"}},
		{desc: "version 0 stands for 1", versions: map[string][]int64{"DB": {0, 3}}, want: []string{"db-one", "db-three"}},
		{desc: "unknown names and versions add nothing", versions: map[string][]int64{"X": {1}, "DB": {7}}, want: []string{"db-three"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got, err := f.ss.ValuesWith(t.Context(), "shop", tc.versions)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			got = slices.Compact(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("values = %q, want %q", got, tc.want)
			}
		})
	}
}
