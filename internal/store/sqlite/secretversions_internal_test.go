package sqlite

import (
	"path/filepath"
	"testing"
)

// TestMigrateKeepsCurrentSecretsAsVersions upgrades a database from
// before secret versions were kept: each secret's current value becomes
// its one kept version, so releases made with it keep reading it.
func TestMigrateKeepsCurrentSecretsAsVersions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	w, err := openWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, w, migrations[:6]); err != nil {
		t.Fatal(err)
	}
	const at = "2025-01-02T03:04:05.000000000Z"
	for _, q := range []string{
		`INSERT INTO apps (name, latest_release, target_release, ports, deleting, status, version, created_at, updated_at, team)
VALUES ('shop', 1, 1, '{}', 0, '{}', 1, '` + at + `', '` + at + `', 'team_a')`,
		`INSERT INTO secrets (app, name, team, envelope, key_id, version, created_at, updated_at)
VALUES ('shop', 'DB', 'team_a', 'bsec1:0123456789abcdef:v3', '0123456789abcdef', 3, '` + at + `', '2025-01-03T00:00:00.000000000Z')`,
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
	got, err := db.ListSecretVersions(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Version != 3 || got[0].Envelope != "bsec1:0123456789abcdef:v3" || got[0].Team != "team_a" ||
		got[0].CreatedAt.Format("2006-01-02") != "2025-01-03" {
		t.Fatalf("versions after the upgrade = %+v, want version 3 with the current envelope, set at its update time", got)
	}
}
