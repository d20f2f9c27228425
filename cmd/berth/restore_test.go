package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

func runBerth(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), args, cli.Options{
		Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" },
		Commands: []*cobra.Command{newRestoreCmd()}, Backup: backupHooks(),
	})
	return code, out.String(), errOut.String()
}

// berth backup --data-dir and berth restore, through the real commands:
// what they print, their exit codes, and their refusals.
func TestBackupRestoreCommands(t *testing.T) {
	src := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(src, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTeam(t.Context(), store.Team{ID: "team_a", Name: "alpha", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	file := filepath.Join(t.TempDir(), "b.backup")
	code, out, errOut := runBerth(t, "backup", "-o", file, "--data-dir", src)
	if code != 0 || !strings.Contains(out, "wrote "+file+": 1 rows") {
		t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
	}
	dst := t.TempDir()
	code, out, errOut = runBerth(t, "restore", file, "--data-dir", dst)
	if code != 0 || !strings.Contains(out, "restored "+file) {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
	}

	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "t.backup")
	if err := os.WriteFile(truncated, good[:len(good)-10], 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		args []string
		code int
		want string
	}{
		{"a store in use", []string{"restore", file, "--data-dir", dst}, 1, "holds 1 teams"},
		{"a truncated file", []string{"restore", truncated, "--data-dir", t.TempDir()}, 1, "not a valid berth backup"},
		{"no target", []string{"restore", file}, 1, "--data-dir DIR"},
		{"a bad mapping", []string{"restore", file, "--data-dir", t.TempDir(), "--map-cluster", "hz"}, 1, "want OLD=NEW"},
		{"an unknown cluster", []string{"restore", file, "--data-dir", t.TempDir(), "--map-cluster", "hz=sh"}, 1, `no cluster "hz"`},
		{"an added cluster without a file", []string{"restore", file, "--data-dir", t.TempDir(), "--add-cluster", "x=/nonexistent"}, 1, "--add-cluster x"},
		{"no output file", []string{"backup", "--data-dir", src}, 2, "-o FILE is required"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			code, out, errOut := runBerth(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q (stdout %q); want exit %d naming %q", code, errOut, out, tt.code, tt.want)
			}
		})
	}
}
