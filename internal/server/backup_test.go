package server

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/backup"
	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/blob/blobtest"
	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

// TestBackupRestoreServer: an online backup through the CLI of a server
// with a deployed app, a secret and a run's artifacts, restored into a new data directory; a
// server started there serves the same platform to the same admin token,
// opens the secret, and deploys a new release from the restored source
// archive (which needs the archive to rebuild).
func TestBackupRestoreServer(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a := runInProcess(t, Config{DataDir: dirA}, "")
	c, urlA, token, stopA := a.c, "http://"+a.api, a.token, a.stop
	app := t.TempDir()
	if err := os.WriteFile(filepath.Join(app, "berth.yaml"), []byte(`name: tiny
services:
  main:
    build: cp hello.txt built.txt
    command: ["sh", "-c", "cat built.txt; exec sleep 600"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "hello.txt"), []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	specText, digest := pack(t, c, app)
	if _, err := c.Apply(t.Context(), api.ApplyRequest{Spec: specText, Source: digest}); err != nil {
		t.Fatal(err)
	}
	waitRelease(t, c, "tiny", 1, api.ReleaseDeployed)
	if _, err := c.SetSecret(t.Context(), "tiny", "TOKEN", "s3cret"); err != nil {
		t.Fatal(err)
	}
	apps, err := c.ListApps(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// A finished pipeline run whose build step kept artifacts, written
	// beside the running server (SQLite allows a second connection).
	artifacts := []byte("pretend this is a tar.gz of tiny's build")
	plantRun(t, dirA, "tiny", artifacts)

	file := filepath.Join(t.TempDir(), "berth.backup")
	var out, errOut bytes.Buffer
	code := cli.Execute(t.Context(), []string{"backup", "-o", file}, cli.Options{
		Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string {
			return map[string]string{"BERTH_URL": urlA, "BERTH_TOKEN": token, "HOME": t.TempDir()}[k]
		},
		Backup: cli.BackupHooks{Offline: backup.WriteOffline, Verify: func(ctx context.Context, p string) (string, error) {
			h, tr, err := backup.Verify(ctx, p)
			return backup.Describe(h, tr), err
		}},
	})
	if code != 0 || !strings.Contains(out.String(), "wrote "+file) {
		t.Fatalf("berth backup: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	t.Log(strings.TrimSpace(out.String()))
	stopA()

	// Restore with A's key, as an operator moving the platform would.
	ring, from, err := backup.LoadKeyring(dirB, filepath.Join(dirA, MasterKeyFileName), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	target, _ := backup.TargetFor(dirB, "")
	if _, err := backup.Restore(t.Context(), backup.OpenFile(file), target, backup.RestoreOptions{
		Keyring: ring, KeySource: from, BlobDir: backup.BlobDir(dirB)}); err != nil {
		t.Fatal(err)
	}

	cb := runInProcess(t, Config{DataDir: dirB, MasterKeyFile: filepath.Join(dirA, MasterKeyFileName)}, token).c
	got, err := cb.ListApps(t.Context())
	if err != nil || len(got) != len(apps) || got[0].Name != "tiny" {
		t.Fatalf("apps after restore = %+v, %v", got, err)
	}
	secs, err := cb.ListSecrets(t.Context(), "tiny")
	if err != nil || len(secs) != 1 {
		t.Fatalf("secrets after restore = %+v, %v", secs, err)
	}
	// A new release of the same source: built from the restored archive.
	res, err := cb.Apply(t.Context(), api.ApplyRequest{Spec: strings.Replace(specText, "exec sleep 600", "exec sleep 601", 1), Source: digest})
	if err != nil || res.Release != 2 {
		t.Fatalf("apply after restore: %+v, %v", res, err)
	}
	waitRelease(t, cb, "tiny", 2, api.ReleaseDeployed)
	// The run's artifact archive came along: it downloads byte for byte.
	rc, _, err := cb.DownloadArtifacts(t.Context(), "tiny.1", "build")
	if err != nil {
		t.Fatalf("artifacts after restore: %v", err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(b, artifacts) {
		t.Fatalf("artifacts after restore: %q, %v; want %q", b, err, artifacts)
	}
}

// plantRun stores a succeeded run of app whose step build kept content as
// its artifact archive, in the SQLite store and blob folder of dataDir.
func plantRun(t *testing.T, dataDir, app string, content []byte) {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs, err := blob.New(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	d := blobtest.Digest(content)
	if err := blobs.Put(ctx, d, bytes.NewReader(content), int64(len(content))); err != nil {
		t.Fatal(err)
	}
	a, err := db.GetApp(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := db.CreateRun(ctx, store.Run{ID: app + ".1", App: app, Team: a.Team, Number: 1, Trigger: "manual", Ref: "main", State: store.RunSucceeded,
		Steps: []store.RunStep{{Name: "build", Kind: "run", Status: "succeeded", Attempt: 1,
			Artifacts: &store.StepArtifacts{Digest: d, Size: int64(len(content)), Count: 1, Files: []string{"bin/" + app}, Bytes: 1}}},
		CreatedAt: now, StartedAt: now, FinishedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}
