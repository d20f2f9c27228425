package pgtest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestURLIsFreshAndDropped(t *testing.T) {
	admin := ServerURL(t)
	var u1, u2 string
	t.Run("a", func(t *testing.T) {
		u1 = URL(t)
		u2 = URL(t)
		if u1 == u2 {
			t.Fatalf("two calls gave the same database %s", u1)
		}
		conn, err := pgx.Connect(t.Context(), u1)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("fresh database has %d tables", n)
		}
		if _, err := conn.Exec(t.Context(), `CREATE TABLE left_behind (x int)`); err != nil {
			t.Fatal(err)
		}
		// The connection stays open: cleanup must drop the database anyway.
	})
	conn, err := pgx.Connect(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, u := range []string{u1, u2} {
		cfg, err := pgx.ParseConfig(u)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, cfg.Database).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still there after its test ended", cfg.Database)
		}
	}
}

// TestPrivateServer starts a server from the installed binaries even when
// another answers, so the fallback is exercised on every machine that has
// them.
func TestPrivateServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs initdb")
	}
	if _, err := binDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: %s", err, howTo)
		}
		t.Skipf("%v: %s", err, howTo)
	}
	if private.cmd != nil {
		t.Skip("the private server is already the test server")
	}
	u, err := startPrivate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dir := private.dir
	t.Cleanup(stopPrivate)
	if err := adminExec(t.Context(), u, `CREATE DATABASE scratch`); err != nil {
		t.Fatal(err)
	}
	stopPrivate()
	if err := ping(t.Context(), u); err == nil {
		t.Error("private server still answers after stopPrivate")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("private server's directory %s left behind: %v", dir, err)
	}
}

// TestConfiguredURLWins checks BERTH_TEST_POSTGRES_URL is used when set,
// and that one that does not answer is an error naming it rather than a
// silent fallback to another server.
func TestConfiguredURLWins(t *testing.T) {
	live := ServerURL(t)
	tests := []struct {
		desc, url string
		wantErr   bool
	}{
		{desc: "answers", url: live},
		{desc: "does not answer", url: "postgres://postgres:pw@127.0.0.1:1/postgres?connect_timeout=2", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Setenv(EnvURL, tc.url)
			got, err := findServer(t.Context())
			switch {
			case tc.wantErr && err == nil:
				t.Fatalf("findServer = %q, want an error", got)
			case tc.wantErr:
				if !errors.Is(err, ErrNoServer) || !strings.Contains(err.Error(), EnvURL) || strings.Contains(err.Error(), ":pw@") {
					t.Errorf("error %q should be ErrNoServer, name %s and hide the password", err, EnvURL)
				}
			case err != nil:
				t.Fatal(err)
			case got != tc.url:
				t.Errorf("findServer = %q, want the configured %q", got, tc.url)
			}
		})
	}
}
