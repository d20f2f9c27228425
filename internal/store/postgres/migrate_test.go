package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store/postgres"

	"github.com/jackc/pgx/v5"
)

// TestMigrationRace opens one fresh database from several "servers" at
// once: every open succeeds and the schema is applied once.
func TestMigrationRace(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	const servers = 8
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, servers)
		dbs   = make([]*postgres.DB, servers)
	)
	for i := range servers {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = postgres.Open(t.Context(), url)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("server %d: Open: %v", i, err)
			continue
		}
		defer dbs[i].Close()
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows, versions int
	if err := conn.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != versions || rows == 0 {
		t.Errorf("schema_migrations: %d rows for %d versions: a migration was applied twice", rows, versions)
	}
	var counters int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM event_revision`).Scan(&counters); err != nil {
		t.Fatal(err)
	}
	if counters != 1 {
		t.Errorf("event_revision has %d rows, want 1", counters)
	}
	// Every server works on the one schema.
	for i, db := range dbs {
		if db == nil {
			continue
		}
		if _, err := db.ListApps(t.Context()); err != nil {
			t.Errorf("server %d: ListApps: %v", i, err)
		}
	}
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations VALUES (999, 'future', 'x')`); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(t.Context(), url); !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Errorf("Open on a newer schema: %v, want ErrSchemaTooNew", err)
	}
}
