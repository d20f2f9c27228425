package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/snapshot"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// oldSource is a store as Berth at an older schema version left it: the
// tables of a real database migrated only that far, with rows given by
// hand (today's store methods write columns the old schema lacks).
type oldSource struct {
	version int
	tables  []snapshot.Table
	rows    map[string][]map[string]any
}

func (s *oldSource) Snapshot(_ context.Context, fn func(snapshot.Reader) error) error { return fn(s) }
func (s *oldSource) Backend() string                                                  { return "sqlite" }
func (s *oldSource) SchemaVersion() int                                               { return s.version }
func (s *oldSource) Tables() []snapshot.Table                                         { return s.tables }
func (s *oldSource) Sequences(context.Context) (map[string]int64, error) {
	return map[string]int64{}, nil
}

func (s *oldSource) Rows(_ context.Context, t snapshot.Table, fn func([]any) error) error {
	for _, r := range s.rows[t.Name] {
		vals := make([]any, len(t.Columns))
		for i, c := range t.Columns {
			vals[i] = r[c.Name]
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return nil
}

// oldBackup writes a backup as Berth at schema version 9 made it.
func oldBackup(t *testing.T) (string, *secrets.Keyring) {
	t.Helper()
	ctx := t.Context()
	// Version 9: before secret_versions (10) and environments.team (11),
	// whose migrations fill them from the rows already there.
	const version = 9
	old, err := sqlite.OpenVersion(ctx, filepath.Join(t.TempDir(), "old.db"), version)
	if err != nil {
		t.Fatal(err)
	}
	var oldTables []snapshot.Table
	if err := old.Snapshot(ctx, func(r snapshot.Reader) error { oldTables = r.Tables(); return nil }); err != nil {
		t.Fatal(err)
	}
	_ = old.Close()

	_, ring := newKey(t)
	env, keyID, err := secretstore.New(nil, ring).Seal("team_a", "shop", "DB_PASSWORD", []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	ts := "2026-05-06T07:08:09.123456789Z"
	src := &oldSource{version: version, tables: oldTables, rows: map[string][]map[string]any{
		"teams": {{"id": "team_a", "name": "default", "created_at": ts}},
		"apps": {{"name": "shop", "latest_release": int64(0), "target_release": int64(0), "ports": "{}", "deleting": int64(0),
			"status": "{}", "version": int64(1), "created_at": ts, "updated_at": ts, "team": "team_a", "env": "prod"}},
		"secrets": {{"app": "shop", "name": "DB_PASSWORD", "team": "team_a", "envelope": env, "key_id": keyID,
			"version": int64(1), "created_at": ts, "updated_at": ts}},
		"clusters":     {{"name": "hz", "server": "https://hz", "context": "", "in_cluster": int64(0), "created_at": ts}},
		"environments": {{"name": "prod", "cluster": "hz", "namespace": "shop", "storage_class": "", "created_at": ts}},
	}}
	return backupOf(t, src, nil, ""), ring
}

func TestRestoreOlderSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	file, ring := oldBackup(t)
	dir := t.TempDir()
	res, err := restoreFile(ctx, file, SQLiteTarget{Path: filepath.Join(dir, "berth.db")}, RestoreOptions{Keyring: ring})
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.SchemaVersion != 9 {
		t.Errorf("header schema version = %d", res.Header.SchemaVersion)
	}
	got := openSQLite(t, filepath.Join(dir, "berth.db"))
	v, _, _ := tables(t, got)
	if v != sqlite.SchemaVersion() {
		t.Errorf("restored schema version = %d; want %d", v, sqlite.SchemaVersion())
	}
	checkUpgraded(t, got, ring)
}

// checkUpgraded checks what the migrations after version 9 made of the
// old backup's rows.
func checkUpgraded(t *testing.T, got store.Store, ring *secrets.Keyring) {
	t.Helper()
	ctx := t.Context()
	// Migration 10 made the secret's first version, 11 gave the
	// environment its app's team.
	vs, err := got.ListSecretVersions(ctx, "shop")
	if err != nil || len(vs) != 1 || vs[0].Version != 1 {
		t.Errorf("secret versions = %+v, %v", vs, err)
	}
	e, err := got.GetEnvironment(ctx, "prod")
	if err != nil || e.Team != "team_a" {
		t.Errorf("environment = %+v, %v", e, err)
	}
	vals, err := secretstore.New(got, ring).ResolveVersions(ctx, "team_a", "shop", []string{"DB_PASSWORD"}, map[string]int64{"DB_PASSWORD": 1})
	if err != nil || vals["DB_PASSWORD"] != "s3cret" {
		t.Errorf("secret = %v, %v", vals, err)
	}
}

// Cluster references a mapping cannot resolve: an environment on a cluster
// the backup does not register, and two environments mapped onto one
// namespace. Both are refused before anything is written.
func TestRestoreClusterReferences(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cur := openSQLite(t, filepath.Join(t.TempDir(), "cur.db"))
	var curTables []snapshot.Table
	if err := cur.Snapshot(ctx, func(r snapshot.Reader) error { curTables = r.Tables(); return nil }); err != nil {
		t.Fatal(err)
	}
	ts := "2026-05-06T07:08:09.123456789Z"
	cluster := func(name string) map[string]any {
		return map[string]any{"name": name, "server": "https://" + name, "context": "", "in_cluster": int64(0), "created_at": ts}
	}
	env := func(name, cluster, ns string) map[string]any {
		return map[string]any{"name": name, "cluster": cluster, "namespace": ns, "storage_class": "", "created_at": ts, "team": "", "routing": "gateway", "gateway_parent": "", "tls_secrets": "", "gateway_status": ""}
	}
	src := &oldSource{version: sqlite.SchemaVersion(), tables: curTables, rows: map[string][]map[string]any{
		"clusters":     {cluster("hz"), cluster("sh")},
		"environments": {env("prod", "hz", "shop"), env("dr", "sh", "shop"), env("lost", "gone", "x")},
	}}
	file := backupOf(t, src, nil, "")
	tests := []struct {
		desc string
		m    map[string]string
		want string
	}{
		{"a reference to an unregistered cluster", nil, `environment "lost" refers to cluster "gone"`},
		{"two environments onto one namespace", map[string]string{"gone": "sh", "hz": "sh"}, `would both use namespace "shop" of cluster "sh"`},
		{"the dangling one mapped", map[string]string{"gone": "sh"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			_, err := restoreFile(ctx, file, SQLiteTarget{Path: filepath.Join(dir, "berth.db")}, RestoreOptions{MapCluster: tt.m})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				e, err := openSQLite(t, filepath.Join(dir, "berth.db")).GetEnvironment(ctx, "lost")
				if err != nil || e.Cluster != "sh" {
					t.Errorf("environment lost = %+v, %v; want on sh", e, err)
				}
				return
			}
			if !errors.Is(err, ErrClusterMap) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("restore = %v; want %v naming %q", err, ErrClusterMap, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused restore left %d entries", len(entries))
			}
		})
	}
}
