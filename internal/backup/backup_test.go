package backup

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/audit"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func newSource(t *testing.T) (*sqlite.DB, *blob.Dir, string) {
	t.Helper()
	dir := t.TempDir()
	db := openSQLite(t, filepath.Join(dir, "berth.db"))
	blobs, err := blob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return db, blobs, dir
}

func TestRoundTripSQLite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, blobs, _ := newSource(t)
	_, ring := newKey(t)
	populate(t, db, ring, blobs)
	file := backupOf(t, db, blobs, ring.PrimaryID())

	dst := t.TempDir()
	res, err := restoreFile(ctx, file, SQLiteTarget{Path: filepath.Join(dst, "berth.db")},
		RestoreOptions{Keyring: ring, KeySource: "test", BlobDir: filepath.Join(dst, "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Backend != "sqlite" || res.Header.MasterKeyID != ring.PrimaryID() || res.Trailer.Blobs != 2 {
		t.Errorf("result = %+v; want the source and the artifact archive", res)
	}
	got := openSQLite(t, filepath.Join(dst, "berth.db"))
	sameState(t, db, got)

	// Through the store interfaces: what the restored server reads.
	apps, err := got.ListApps(ctx)
	if err != nil || len(apps) != 2 || apps[1].Name != "shop" || apps[1].Env != "prod" {
		t.Fatalf("apps = %+v, %v", apps, err)
	}
	rels, err := got.ListReleases(ctx, "shop")
	if err != nil || len(rels) != 2 {
		t.Fatalf("releases = %+v, %v", rels, err)
	}
	ss := secretstore.New(got, ring)
	vals, err := ss.Resolve(ctx, "team_a", "shop", []string{"DB_PASSWORD"})
	if err != nil || vals["DB_PASSWORD"] != "hunter2-shop" {
		t.Errorf("secret = %v, %v", vals, err)
	}
	if kc, err := ss.ClusterCredentials(ctx, "hz"); err != nil || !strings.Contains(string(kc), "kind: Config") {
		t.Errorf("cluster credentials = %q, %v", kc, err)
	}
	recs, err := got.ListAudit(ctx, store.AuditQuery{})
	if err != nil || len(recs) != 3 {
		t.Fatalf("audit = %d records, %v", len(recs), err)
	}
	if err := audit.Verify(recs); err != nil {
		t.Errorf("audit chain after restore: %v", err)
	}
	// The next event continues after the restored revisions.
	last, _ := db.LastRevision(ctx)
	rev, err := got.AppendEvent(ctx, store.Event{Kind: "x", App: "shop", Time: t0})
	if err != nil || rev != last+1 {
		t.Errorf("next revision = %d, %v; want %d", rev, err, last+1)
	}
	// The source archive the releases need came along, and the run's
	// artifact archive, byte for byte.
	dstBlobs, _ := blob.New(filepath.Join(dst, "blobs"))
	if ok, _ := dstBlobs.Has(ctx, rels[0].Source); !ok {
		t.Errorf("source archive %s not restored", rels[0].Source)
	}
	checkArchives(t, got, blobs, dstBlobs)
	run, err := got.GetRun(ctx, "run_2")
	if err != nil || !run.Steps[0].Artifacts.Kept() || run.Steps[1].Artifacts.Kept() || !run.Steps[1].Artifacts.ExpiredAt.Equal(t0) {
		t.Errorf("restored run_2 = %+v, %v; want its kept and its expired artifacts as they were", run.Steps, err)
	}
}

func TestRestoreRefusals(t *testing.T) {
	t.Parallel()
	db, blobs, _ := newSource(t)
	key, ring := newKey(t)
	populate(t, db, ring, blobs)
	file := backupOf(t, db, blobs, key.ID())
	_, otherRing := newKey(t)

	busy := t.TempDir()
	used := openSQLite(t, filepath.Join(busy, "berth.db"))
	if err := used.CreateTeam(t.Context(), store.Team{ID: "t", Name: "t", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	_ = used.Close()

	tests := []struct {
		desc    string
		dir     string
		opts    RestoreOptions
		wantErr error
		want    string
	}{
		{desc: "non-empty store", dir: busy, opts: RestoreOptions{Keyring: ring}, wantErr: ErrNotEmpty, want: "1 teams"},
		{desc: "no master key", opts: RestoreOptions{}, wantErr: ErrMasterKey, want: "--master-key-file"},
		{desc: "wrong master key", opts: RestoreOptions{Keyring: otherRing, KeySource: "BERTH_MASTER_KEY"}, wantErr: ErrMasterKey, want: "sealed with master key " + key.ID()},
		{desc: "map to unknown cluster", opts: RestoreOptions{Keyring: ring, MapCluster: map[string]string{"hz": "nope"}}, wantErr: ErrClusterMap, want: `cluster "nope" is not in the backup`},
		{desc: "map from unknown cluster", opts: RestoreOptions{Keyring: ring, MapCluster: map[string]string{"zz": "sh"}}, wantErr: ErrClusterMap, want: `no cluster "zz"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = t.TempDir()
			}
			before := listDir(t, dir)
			tt.opts.BlobDir = filepath.Join(dir, "blobs")
			_, err := restoreFile(t.Context(), file, SQLiteTarget{Path: filepath.Join(dir, "berth.db")}, tt.opts)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("restore: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("restore = %v; want %v naming %q", err, tt.wantErr, tt.want)
			}
			if after := listDir(t, dir); after != before {
				t.Errorf("a refused restore changed the data dir:\n%s\n->\n%s", before, after)
			}
		})
	}
}

// listDir describes every file under dir, to tell that nothing changed.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(strings.TrimPrefix(p, dir))
		if !fi.IsDir() {
			b.WriteString(" " + fi.ModTime().String())
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRestoreMapCluster(t *testing.T) {
	t.Parallel()
	db, blobs, _ := newSource(t)
	_, ring := newKey(t)
	populate(t, db, ring, blobs)
	file := backupOf(t, db, blobs, "")
	dir := t.TempDir()
	if _, err := restoreFile(t.Context(), file, SQLiteTarget{Path: filepath.Join(dir, "berth.db")},
		RestoreOptions{Keyring: ring, BlobDir: filepath.Join(dir, "blobs"), MapCluster: map[string]string{"hz": "sh"}}); err != nil {
		t.Fatal(err)
	}
	got := openSQLite(t, filepath.Join(dir, "berth.db"))
	envs, err := got.ListEnvironments(t.Context())
	if err != nil || len(envs) != 2 {
		t.Fatalf("environments = %+v, %v", envs, err)
	}
	for _, e := range envs {
		if e.Cluster != "sh" {
			t.Errorf("environment %s on cluster %q; want sh", e.Name, e.Cluster)
		}
	}
	// The clusters themselves stay registered, credentials sealed as before.
	if cs, _ := got.ListClusters(t.Context()); len(cs) != 2 {
		t.Errorf("clusters = %+v", cs)
	}
}

func TestRestoreCorruptFile(t *testing.T) {
	t.Parallel()
	db, blobs, _ := newSource(t)
	_, ring := newKey(t)
	populate(t, db, ring, blobs)
	file := backupOf(t, db, blobs, "")
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Uncompressed, so a change can land in a row rather than in gzip's
	// framing, and gzipped again: only the trailer's digest notices.
	plain := gunzip(t, good)
	j := strings.Index(string(plain), `"ann@example.com"`)
	altered := []byte(strings.Replace(string(plain), `"ann@example.com"`, `"eve@example.com"`, 1))
	if j < 0 {
		t.Fatal("fixture row not found")
	}
	tests := []struct {
		desc string
		data []byte
		want string
	}{
		{desc: "truncated in the middle", data: good[:len(good)/2], want: "truncated"},
		{desc: "truncated before the gzip trailer", data: good[:len(good)-4], want: ""},
		{desc: "a byte flipped", data: flip(good, len(good)/3), want: ""},
		{desc: "a row changed", data: gzipBytes(t, altered), want: "digest"},
		{desc: "not a backup", data: []byte("hello"), want: ""},
		{desc: "empty", data: nil, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.backup")
			writeFile(t, path, tt.data)
			dir := t.TempDir()
			_, err := restoreFile(t.Context(), path, SQLiteTarget{Path: filepath.Join(dir, "berth.db")},
				RestoreOptions{Keyring: ring, BlobDir: filepath.Join(dir, "blobs")})
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("restore = %v; want %v naming %q", err, ErrFormat, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused restore left %d entries in the data dir", len(entries))
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
