package server

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store/postgres"
	"github.com/berthdev/berth/pkg/client"
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

	c, stop := runServer(t, dataDir, dbURL)
	if _, err := c.CreateTeam(t.Context(), "payments"); err != nil {
		t.Fatal(err)
	}
	stop()
	c, _ = runServer(t, dataDir, dbURL)
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

// runServer starts the server on dataDir and database and returns an
// admin client and the function that stops the server (called at the
// latest when t ends).
func runServer(t *testing.T, dataDir, database string) (*client.Client, func()) {
	t.Helper()
	apiAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			DataDir: dataDir, Database: database, Listen: apiAddr,
			ShimCommand: []string{os.Args[0]}, ShimEnv: []string{envShim + "=1"},
			Logger: slog.New(slog.DiscardHandler),
		})
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(time.Minute)
	for {
		token, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
		if err == nil {
			if resp, err := http.Get("http://" + apiAddr + "/healthz"); err == nil {
				resp.Body.Close()
				return client.New("http://"+apiAddr, strings.TrimSpace(string(token))), stop
			}
		}
		select {
		case err := <-done:
			t.Fatalf("server ended while starting: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
