package sqlite

import (
	"path/filepath"
	"testing"
)

// TestMigrateGivesEnvironmentsATeam upgrades a database written at schema
// version 10: an environment with apps goes to their team, one without to
// the default team.
func TestMigrateGivesEnvironmentsATeam(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	w, err := openWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, w, migrations[:10]); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO teams (id, name, created_at) VALUES ('team_d', 'default', '2025-01-02T03:04:05Z'), ('team_s', 'shop', '2025-01-02T03:04:05Z')`,
		`INSERT INTO environments (name, cluster, namespace, storage_class, created_at) VALUES
			('prod', 'eu', 'shop', '', '2025-01-02T03:04:05.000000000Z'),
			('idle', 'eu', 'idle', '', '2025-01-02T03:04:05.000000000Z')`,
		`INSERT INTO apps (name, team, env, latest_release, target_release, ports, deleting, status, version, created_at, updated_at)
VALUES ('web', 'team_s', 'prod', 1, 1, '{}', 0, '{}', 1, '2025-01-02T03:04:05.000000000Z', '2025-01-02T03:04:05.000000000Z')`,
	} {
		if _, err := w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open the old database: %v", err)
	}
	defer db.Close()
	for _, c := range []struct{ desc, env, team string }{
		{"used by an app", "prod", "team_s"},
		{"unused", "idle", "team_d"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			e, err := db.GetEnvironment(ctx, c.env)
			if err != nil {
				t.Fatal(err)
			}
			if e.Team != c.team {
				t.Errorf("environment %s team %q, want %q", c.env, e.Team, c.team)
			}
		})
	}
}
