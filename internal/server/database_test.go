package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store/postgres"
)

func TestOpenStoreRefusesBadDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, url, want string
	}{
		{desc: "not postgres", url: "mysql://root@localhost/berth", want: "want a URL like postgres://"},
		{desc: "no host", url: "postgres:///berth", want: "want a URL like postgres://"},
		{desc: "not a URL", url: "host=localhost dbname=berth", want: "want a URL like postgres://"},
		{desc: "unreachable", url: "postgres://berth:hunter2@127.0.0.1:1/berth?connect_timeout=2", want: "connect to 127.0.0.1:1/berth"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			_, err := openStore(t.Context(), dir, tc.url)
			if err == nil {
				t.Fatal("openStore succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "--database") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q should name --database and say %q", msg, tc.want)
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error %q shows the password", msg)
			}
			if _, err := os.Stat(filepath.Join(dir, "berth.db")); !os.IsNotExist(err) {
				t.Errorf("a SQLite file was made in the data dir: %v", err)
			}
		})
	}
}

// TestServerOnPostgres runs the server with --database: its state goes to
// PostgreSQL and is there after a restart; the data dir holds no SQLite
// file.
func TestServerOnPostgres(t *testing.T) {
	dbURL := pgtest.URL(t)
	dataDir := t.TempDir()

	s := runInProcess(t, Config{DataDir: dataDir, Database: dbURL}, "")
	c, stop := s.c, s.stop
	if _, err := c.CreateTeam(t.Context(), "payments"); err != nil {
		t.Fatal(err)
	}
	stop()
	c = runInProcess(t, Config{DataDir: dataDir, Database: dbURL}, "").c
	teams, err := c.ListTeams(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tm := range teams {
		found = found || tm.Name == "payments"
	}
	if !found {
		t.Errorf("team made before the restart is gone: %+v", teams)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "berth.db")); !os.IsNotExist(err) {
		t.Errorf("berth.db in the data dir with --database: %v", err)
	}
	db, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.GetTeamByName(t.Context(), "payments"); err != nil {
		t.Errorf("team not in PostgreSQL: %v", err)
	}
}
