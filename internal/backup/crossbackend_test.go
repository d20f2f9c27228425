package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/audit"
	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/postgres"
	"github.com/berthdev/berth/internal/store/snapshot"
)

func openPostgres(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// checkThroughStore reads a restored store the way a server does.
func checkThroughStore(t *testing.T, want, got store.Store, ss *secretstore.Store) {
	t.Helper()
	ctx := t.Context()
	wa, _ := want.ListApps(ctx)
	ga, err := got.ListApps(ctx)
	if err != nil || len(ga) != len(wa) {
		t.Fatalf("apps = %d, %v; want %d", len(ga), err, len(wa))
	}
	for i := range wa {
		if ga[i].Name != wa[i].Name || ga[i].Team != wa[i].Team || ga[i].Env != wa[i].Env || !ga[i].CreatedAt.Equal(wa[i].CreatedAt) {
			t.Errorf("app %d = %+v; want %+v", i, ga[i], wa[i])
		}
	}
	we, _ := want.ListEvents(ctx, 0, 1000)
	ge, err := got.ListEvents(ctx, 0, 1000)
	if err != nil || len(ge) != len(we) || ge[len(ge)-1].Revision != we[len(we)-1].Revision {
		t.Errorf("events = %d, %v; want %d", len(ge), err, len(we))
	}
	vals, err := ss.Resolve(ctx, "team_b", "blog", []string{"DB_PASSWORD"})
	if err != nil || vals["DB_PASSWORD"] != "hunter2-blog" {
		t.Errorf("secret = %v, %v", vals, err)
	}
	if _, err := ss.ClusterCredentials(ctx, "sh"); err != nil {
		t.Errorf("cluster credentials: %v", err)
	}
	recs, err := got.ListAudit(ctx, store.AuditQuery{})
	if err != nil || len(recs) != 3 || audit.Verify(recs) != nil {
		t.Errorf("audit = %d records, %v, chain %v", len(recs), err, audit.Verify(recs))
	}
	last, _ := want.LastRevision(ctx)
	if rev, err := got.AppendEvent(ctx, store.Event{Kind: "x", App: "shop", Time: t0}); err != nil || rev != last+1 {
		t.Errorf("next revision = %d, %v; want %d", rev, err, last+1)
	}
	// Approvals number on from the restored sequence.
	if err := got.CreateApproval(ctx, store.Approval{Run: "run_1", Step: "approve", Who: "user_2", Decision: store.DecisionReject, Time: t0}); err != nil {
		t.Errorf("approval after restore: %v", err)
	}
}

func TestSQLiteToPostgres(t *testing.T) {
	t.Parallel()
	db, blobs, _ := newSource(t)
	_, ring := newKey(t)
	populate(t, db, ring, blobs)
	file := backupOf(t, db, blobs, ring.PrimaryID())

	url := pgtest.URL(t)
	// No blob directory: the database keeps the archives.
	if _, err := restoreFile(t.Context(), file, PostgresTarget{URL: url}, RestoreOptions{Keyring: ring}); err != nil {
		t.Fatal(err)
	}
	pg := openPostgres(t, url)
	sameState(t, db, pg)
	checkThroughStore(t, db, pg, secretstore.New(pg, ring))
	checkArchives(t, db, blobs, pg.Blobs())
	checkRestoredYoung(t, pg.Blobs())

	// And the restored database refuses a second restore, naming what
	// it holds.
	_, err := restoreFile(t.Context(), file, PostgresTarget{URL: url}, RestoreOptions{Keyring: ring})
	if !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "2 apps") {
		t.Errorf("second restore = %v; want %v naming 2 apps", err, ErrNotEmpty)
	}
}

func TestPostgresToSQLite(t *testing.T) {
	t.Parallel()
	pg := openPostgres(t, pgtest.URL(t))
	srcBlobs := pg.Blobs()
	_, ring := newKey(t)
	populate(t, pg, ring, srcBlobs)
	file := backupOf(t, pg, srcBlobs, "")

	dir := t.TempDir()
	res, err := restoreFile(t.Context(), file, SQLiteTarget{Path: filepath.Join(dir, "berth.db")}, RestoreOptions{Keyring: ring, BlobDir: filepath.Join(dir, "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Backend != "postgres" {
		t.Errorf("backend = %q", res.Header.Backend)
	}
	got := openSQLite(t, filepath.Join(dir, "berth.db"))
	sameState(t, pg, got)
	checkThroughStore(t, pg, got, secretstore.New(got, ring))
	dstBlobs, err := blob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	checkArchives(t, pg, srcBlobs, dstBlobs)
}

// checkArchives checks that every release's source archive of st is in
// got with the content it has in want.
func checkArchives(t *testing.T, st store.Store, want, got blob.Store) {
	t.Helper()
	ctx := t.Context()
	apps, err := st.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range apps {
		rels, err := st.ListReleases(ctx, a.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rels {
			if r.Source == "" {
				continue
			}
			n++
			if w, g := readBlob(t, want, r.Source), readBlob(t, got, r.Source); w == nil || !bytes.Equal(w, g) {
				t.Errorf("archive %s of %s release %d: restored %q, want %q", r.Source, a.Name, r.Number, g, w)
			}
		}
	}
	if n == 0 {
		t.Fatal("no release refers to an archive")
	}
	// And the artifact archives runs' steps keep.
	runs, err := st.ListRuns(ctx, store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n = 0
	for _, r := range runs {
		for _, s := range r.Steps {
			if !s.Artifacts.Kept() {
				continue
			}
			n++
			if w, g := readBlob(t, want, s.Artifacts.Digest), readBlob(t, got, s.Artifacts.Digest); w == nil || !bytes.Equal(w, g) {
				t.Errorf("artifacts %s of run %s step %s: restored %q, want %q", s.Artifacts.Digest, r.ID, s.Name, g, w)
			}
		}
	}
	if n == 0 {
		t.Fatal("no run step refers to an artifact archive")
	}
}

func readBlob(t *testing.T, s blob.Store, digest string) []byte {
	t.Helper()
	rc, _, err := s.Open(t.Context(), digest)
	if err != nil {
		t.Errorf("open %s: %v", digest, err)
		return nil
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Errorf("read %s: %v", digest, err)
	}
	return b
}

// atVersion is a store that says its schema is v: SQLite's schema at
// 13 and 14 are the same tables (14 is PostgreSQL's blob tables), so this
// makes a backup as Berth at 13 wrote it, with archives.
type atVersion struct {
	snapshot.Source
	v int
}

func (a atVersion) Snapshot(ctx context.Context, fn func(snapshot.Reader) error) error {
	return a.Source.Snapshot(ctx, func(r snapshot.Reader) error { return fn(versioned{Reader: r, v: a.v}) })
}

type versioned struct {
	snapshot.Reader
	v int
}

func (r versioned) SchemaVersion() int { return r.v }

// newerTables are the tables migrations after 13 made, by version: a
// backup at an older version never lists them.
var newerTables = map[string]int{"pipeline_caches": 16}

func (r versioned) Tables() []snapshot.Table {
	var out []snapshot.Table
	for _, t := range r.Reader.Tables() {
		if v, ok := newerTables[t.Name]; !ok || v <= r.v {
			out = append(out, t)
		}
	}
	return out
}

// A backup from before PostgreSQL kept archives loads at its own schema,
// which lacks the blob tables: the archives still land in the database,
// in the load transaction, and the later migration finds the tables made.
func TestArchivesOfOlderBackupToPostgres(t *testing.T) {
	t.Parallel()
	db, blobs, _ := newSource(t)
	_, ring := newKey(t)
	populate(t, db, ring, blobs)
	// Berth at 13 had no pipeline caches (migration 16): the backup leaves
	// the table out, so it must be empty.
	if err := db.DeletePipelineCache(t.Context(), "shop", "deps-0123456789abcdef", cacheDigest); err != nil {
		t.Fatal(err)
	}
	file := backupOf(t, atVersion{Source: db, v: 13}, blobs, "")
	url := pgtest.URL(t)
	res, err := restoreFile(t.Context(), file, PostgresTarget{URL: url}, RestoreOptions{Keyring: ring})
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.SchemaVersion != 13 {
		t.Fatalf("backup schema = %d", res.Header.SchemaVersion)
	}
	pg := openPostgres(t, url)
	sameState(t, db, pg)
	checkArchives(t, db, blobs, pg.Blobs())
	checkRestoredYoung(t, pg.Blobs())
}

// checkRestoredYoung: the restored blob store has blobs.stored_at (a
// backup from before migration 17 loads into tables without it, and the
// migration after the load adds it) and counts every restored blob as
// stored at the restore, so the blob collector lists them and spares
// them a full grace.
func checkRestoredYoung(t *testing.T, blobs blob.Store) {
	t.Helper()
	list, err := blobs.List(t.Context())
	if err != nil || len(list) == 0 {
		t.Fatalf("List of the restored blobs = %v, %v", list, err)
	}
	for _, b := range list {
		if b.Age < 0 || b.Age > time.Minute {
			t.Errorf("restored blob %s is %s old; want it counted from the restore", b.Digest, b.Age)
		}
		if gone, err := blobs.Delete(t.Context(), b.Digest, time.Hour); err != nil || gone {
			t.Errorf("Delete of restored blob %s with an hour's grace = %v, %v", b.Digest, gone, err)
		}
	}
}

// An old SQLite backup goes into PostgreSQL, whose schema starts later:
// through SQLite's migrations first.
func TestOlderSchemaToPostgres(t *testing.T) {
	t.Parallel()
	file, ring := oldBackup(t)
	url := pgtest.URL(t)
	if _, err := restoreFile(t.Context(), file, PostgresTarget{URL: url}, RestoreOptions{Keyring: ring}); err != nil {
		t.Fatal(err)
	}
	checkUpgraded(t, openPostgres(t, url), ring)
}

// An offline backup of a PostgreSQL store: read without migrating, with
// the archives the database keeps, and no data directory.
func TestOfflinePostgresBackup(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	pg := openPostgres(t, url)
	blobs := pg.Blobs()
	_, ring := newKey(t)
	populate(t, pg, ring, blobs)
	file := filepath.Join(t.TempDir(), "pg.backup")
	var buf bytes.Buffer
	if err := WriteOffline(t.Context(), "", url, &buf); err != nil {
		t.Fatal(err)
	}
	writeFile(t, file, buf.Bytes())
	h, tr, err := Verify(t.Context(), file)
	if err != nil {
		t.Fatal(err)
	}
	if h.Backend != "postgres" || tr.Blobs != 2 || tr.MissingBlobs != 0 {
		t.Errorf("offline backup: %+v %+v: %s", h, tr, Describe(h, tr))
	}
	dir := t.TempDir()
	if _, err := restoreFile(t.Context(), file, SQLiteTarget{Path: filepath.Join(dir, "berth.db")}, RestoreOptions{Keyring: ring, BlobDir: filepath.Join(dir, "blobs")}); err != nil {
		t.Fatal(err)
	}
	got := openSQLite(t, filepath.Join(dir, "berth.db"))
	sameState(t, pg, got)
	dstBlobs, err := blob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	checkArchives(t, pg, blobs, dstBlobs)
}

// Tables of the running servers, not of the platform — the leader lease
// servers sharing a PostgreSQL database keep there — stay out of a
// backup, so it still restores into SQLite.
func TestPostgresLeaseNotBackedUp(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	pg := openPostgres(t, url)
	if err := pg.CreateTeam(t.Context(), store.Team{ID: "t", Name: "t", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	// The shape internal/leader/pglease creates.
	if _, err := c.Exec(t.Context(), `CREATE TABLE leader_leases (name text PRIMARY KEY, holder text NOT NULL, epoch bigint NOT NULL,
		expires_at timestamptz NOT NULL, acquired_at timestamptz NOT NULL);
		INSERT INTO leader_leases VALUES ('berth', 'server-1', 7, now(), now())`); err != nil {
		t.Fatal(err)
	}
	file := backupOf(t, pg, nil, "")
	dir := t.TempDir()
	if _, err := restoreFile(t.Context(), file, SQLiteTarget{Path: filepath.Join(dir, "berth.db")}, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	sameState(t, pg, openSQLite(t, filepath.Join(dir, "berth.db")))
}
