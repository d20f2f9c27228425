package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/audit"
	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/snapshot"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)

// cacheDigest is the archive the fixture's pipeline cache names.
var cacheDigest = "sha256:" + fmt.Sprintf("%064x", 7)

func newKey(t *testing.T) (secrets.Key, *secrets.Keyring) {
	t.Helper()
	k, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, ring
}

func openSQLite(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// putSource stores a small source archive and returns its digest.
func putSource(t *testing.T, blobs blob.Store, content string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(content))
	d := "sha256:" + hex.EncodeToString(sum[:])
	if err := blobs.Put(t.Context(), d, bytes.NewReader([]byte(content)), 1<<20); err != nil {
		t.Fatal(err)
	}
	return d
}

// populate writes some of every kind of platform state through the store
// interfaces, with secrets and a cluster's credentials sealed by ring.
func populate(t *testing.T, st store.Store, ring *secrets.Keyring, blobs blob.Store) {
	t.Helper()
	ctx := t.Context()
	ss := secretstore.New(st, ring)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("team", st.CreateTeam(ctx, store.Team{ID: "team_a", Name: "alpha", CreatedAt: t0}))
	must("team", st.CreateTeam(ctx, store.Team{ID: "team_b", Name: "beta", CreatedAt: t0}))
	must("user", st.CreateUser(ctx, store.User{ID: "user_1", Email: "ann@example.com", Name: "Ann", PasswordHash: "$argon2id$v=19$x", PlatformAdmin: true, CreatedAt: t0, UpdatedAt: t0}))
	must("user", st.CreateUser(ctx, store.User{ID: "user_2", Email: "bob@example.com", Name: "Bob", OIDCIssuer: "https://id.example.com", OIDCSubject: "bob", CreatedAt: t0, UpdatedAt: t0}))
	must("member", st.PutMember(ctx, store.Member{Team: "team_a", User: "user_1", Role: "owner", Source: "manual", CreatedAt: t0}))
	must("member", st.PutMember(ctx, store.Member{Team: "team_b", User: "user_2", Role: "developer", Source: "sso", CreatedAt: t0}))
	must("token", st.CreateToken(ctx, store.Token{ID: "tok_1", Name: "ci", Hash: fmt.Sprintf("%064x", 1), Kind: "personal", User: "user_1", Scope: "admin", Last4: "abcd", CreatedAt: t0}))
	must("cluster", ss.CreateCluster(ctx, store.Cluster{Name: "hz", Server: "https://hz.example.com", Context: "hz", CreatedAt: t0}, []byte("apiVersion: v1\nkind: Config\n")))
	must("cluster", ss.CreateCluster(ctx, store.Cluster{Name: "sh", Server: "https://sh.example.com", Context: "sh", CreatedAt: t0}, []byte("apiVersion: v1\nkind: Config\n# sh\n")))
	must("env", st.CreateEnvironment(ctx, store.Environment{Name: "prod", Team: "team_a", Cluster: "hz", Namespace: "shop", CreatedAt: t0}))
	must("env", st.CreateEnvironment(ctx, store.Environment{Name: "stage", Team: "team_b", Cluster: "hz", Namespace: "stage", StorageClass: "fast", TLSSecrets: "stage-tls,api-tls", CreatedAt: t0}))
	must("env status", st.SetEnvironmentStatus(ctx, "stage", api.EnvironmentStatus{Gateway: api.GatewayReady, Replicas: 2, Ready: 2,
		TLSSecrets: []api.TLSSecretStatus{{Name: "stage-tls", Served: true, Names: []string{"stage.example"}}, {Name: "api-tls", Error: "not found"}}, CheckedAt: t0}))

	src := putSource(t, blobs, "pretend this is a tar.gz of shop")
	for i, name := range []string{"shop", "blog"} {
		team := []string{"team_a", "team_b"}[i]
		err := st.InTx(ctx, func(tx store.Tx) error {
			a := store.App{Name: name, Team: team, LatestRelease: 2, TargetRelease: 2, Ports: map[string]int{"web": 41000 + i}, CreatedAt: t0, UpdatedAt: t0}
			if name == "shop" {
				a.Env = "prod"
			}
			if err := tx.CreateApp(ctx, a); err != nil {
				return err
			}
			for n := 1; n <= 2; n++ {
				r := store.Release{App: name, Number: n, Spec: json.RawMessage(fmt.Sprintf(`{"name":%q,"n":%d}`, name, n)),
					SpecHash: fmt.Sprintf("sha256:%064d", n), Source: src, Cause: "apply", State: "Deployed", CreatedAt: t0, UpdatedAt: t0}
				if err := tx.CreateRelease(ctx, r); err != nil {
					return err
				}
				if _, err := tx.AppendEvent(ctx, store.Event{Kind: "release.created", App: name, Release: n, Time: t0, Data: json.RawMessage(`{"x":1}`)}); err != nil {
					return err
				}
			}
			return nil
		})
		must("app "+name, err)
		env, keyID, err := ss.Seal(team, name, "DB_PASSWORD", []byte("hunter2-"+name))
		must("seal", err)
		must("secret", st.CreateSecret(ctx, store.Secret{Team: team, App: name, Name: "DB_PASSWORD", Envelope: env, KeyID: keyID, Version: 1, CreatedAt: t0, UpdatedAt: t0}))
		must("config", st.CreateConfigVersion(ctx, store.ConfigVersion{App: name, Env: "local", Version: 1, Entries: map[string]string{"LOG": "debug"}, Files: map[string]string{"a.conf": "x=1\n"}, Author: "user_1", CreatedAt: t0}))
	}
	must("run", st.CreateRun(ctx, store.Run{ID: "run_1", App: "shop", Team: "team_a", Number: 1, Trigger: "manual", Ref: "main", Commit: "abc",
		Params: map[string]string{"k": "v"}, State: "running", Steps: []store.RunStep{{Name: "test", Kind: "run", Status: "succeeded"}},
		Version: 1, CreatedAt: t0, StartedAt: t0, UpdatedAt: t0}))
	// A finished run whose build step kept an archive (a blob the backup
	// carries) and whose older step's archive expired (nothing to carry).
	arts := putSource(t, blobs, "pretend this is a tar.gz of shop's build artifacts")
	must("run", st.CreateRun(ctx, store.Run{ID: "run_2", App: "shop", Team: "team_a", Number: 2, Trigger: "manual", Ref: "main", Commit: "abc",
		State: store.RunSucceeded, Steps: []store.RunStep{
			{Name: "build", Kind: "run", Status: "succeeded", Artifacts: &store.StepArtifacts{Digest: arts, Size: 50, Count: 1, Files: []string{"bin/shop"}, Bytes: 9}},
			{Name: "docs", Kind: "run", Status: "succeeded", Artifacts: &store.StepArtifacts{Size: 7, Count: 2, Bytes: 30, ExpiredAt: t0}},
		},
		Version: 1, CreatedAt: t0, StartedAt: t0, FinishedAt: t0, UpdatedAt: t0}))
	must("approval", st.CreateApproval(ctx, store.Approval{Run: "run_1", Step: "approve", Who: "user_1", Decision: store.DecisionApprove, Time: t0}))
	_, err := st.RecordDelivery(ctx, "delivery-1", t0)
	must("delivery", err)
	must("pipeline", st.PutPipeline(ctx, store.PipelineState{App: "shop", Team: "team_a", Definition: json.RawMessage(`{"steps":[]}`), Commit: "abc", Schedule: "@daily", UpdatedAt: t0}))
	// Its archive is not in the blob store: backups carry the index of
	// caches, not their archives.
	_, err = st.CreatePipelineCache(ctx, store.PipelineCache{App: "shop", Key: "deps-0123456789abcdef", Digest: cacheDigest, Size: 4096, CreatedAt: t0, LastUsedAt: t0.Add(time.Hour)})
	must("pipeline cache", err)
	for i := range 3 {
		_, err := st.AppendAudit(ctx, audit.Record{Time: t0.Truncate(time.Microsecond), Actor: "user_1", Team: "team_a", Action: fmt.Sprintf("app.apply.%d", i),
			Object: "app/shop", Outcome: audit.OutcomeSuccess, Details: map[string]string{"release": "1"}})
		must("audit", err)
	}
}

// tables reads every table of src as sorted, printable rows, so two
// stores of different kinds compare equal exactly when they hold the
// same state.
func tables(t *testing.T, src snapshot.Source) (int, map[string][]string, map[string]int64) {
	t.Helper()
	out := map[string][]string{}
	var version int
	var seqs map[string]int64
	err := src.Snapshot(t.Context(), func(r snapshot.Reader) error {
		version = r.SchemaVersion()
		for _, tb := range r.Tables() {
			rows := []string{}
			err := r.Rows(t.Context(), tb, func(vals []any) error {
				m := map[string]any{}
				for i, c := range tb.Columns {
					m[c.Name] = vals[i]
				}
				b, err := json.Marshal(m)
				rows = append(rows, string(b))
				return err
			})
			if err != nil {
				return err
			}
			slices.Sort(rows)
			out[tb.Name] = rows
		}
		var err error
		seqs, err = r.Sequences(t.Context())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return version, out, seqs
}

// sameState fails the test unless a and b hold the same tables, rows and
// counters.
func sameState(t *testing.T, a, b snapshot.Source) {
	t.Helper()
	va, ta, sa := tables(t, a)
	vb, tb, sb := tables(t, b)
	if va != vb {
		t.Errorf("schema versions %d and %d", va, vb)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(ta)), slices.Sorted(maps.Keys(tb))) {
		t.Fatalf("tables differ:\n%v\n%v", slices.Sorted(maps.Keys(ta)), slices.Sorted(maps.Keys(tb)))
	}
	for name, rows := range ta {
		if !reflect.DeepEqual(rows, tb[name]) {
			t.Errorf("table %s differs:\n got %v\nwant %v", name, tb[name], rows)
		}
	}
	if !reflect.DeepEqual(sa, sb) {
		t.Errorf("sequences differ: %v and %v", sa, sb)
	}
}

// backupOf writes a backup of src into a file and returns its path.
func backupOf(t *testing.T, src snapshot.Source, blobs blob.Store, keyID string) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Write(t.Context(), &buf, src, Options{Blobs: blobs, MasterKeyID: keyID}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "berth.backup")
	writeFile(t, path, buf.Bytes())
	return path
}

func restoreFile(ctx context.Context, path string, tgt Target, opts RestoreOptions) (Result, error) {
	return Restore(ctx, OpenFile(path), tgt, opts)
}
