package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/backup"
	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/pkg/api"
)

// TestBackupRestoreServer: an online backup through the CLI of a server
// with a deployed app and a secret, restored into a new data directory; a
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
}
