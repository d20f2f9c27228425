package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// TestPipelineArtifactsOutliveTheRun: a real run on the local executor
// keeps its build step's files; after the run (its workspace deleted) and
// a server restart, "berth run artifacts" lists them and "berth run
// download" unpacks them, runnable, into the folder named; a server whose
// artifact retention is over expires them.
func TestPipelineArtifactsOutliveTheRun(t *testing.T) {
	work := sleeperRepo(t, "arts", `on: [manual]
steps:
  - name: build
    run: |
      mkdir -p bin dist
      printf '#!/bin/sh\necho tool ran\n' > bin/tool && chmod +x bin/tool
      echo "from $BERTH_COMMIT" > dist/notes.txt
    artifacts: [bin/, dist/]
  - name: test
    needs: [build]
    run: ./bin/tool
`)
	dataDir, apiAddr, gwAddr := t.TempDir(), freeAddr(t), freeAddr(t)
	var s *server
	cleanupApps(t, &s)
	s = startServer(t, dataDir, apiAddr, gwAddr)
	s.mustBerth("apply", "-f", filepath.Join(work, "berth.yaml"), "--wait=false")
	s.mustBerth("pipeline", "run", "arts")
	logs := s.mustBerth("run", "logs", "arts.1", "-f")
	if !strings.Contains(logs, "run succeeded") || !strings.Contains(logs, "step build: artifacts kept: 2 files") {
		t.Fatalf("run log:\n%s", logs)
	}
	s.stop()
	s = startServer(t, dataDir, apiAddr, gwAddr)

	var list []api.StepArtifacts
	if err := json.Unmarshal([]byte(s.mustBerth("run", "artifacts", "arts.1", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Step != "build" || list[0].Count != 2 || strings.Join(list[0].Files, ",") != "bin/tool,dist/notes.txt" {
		t.Fatalf("artifacts = %+v", list)
	}
	if table := s.mustBerth("run", "artifacts", "arts.1"); !strings.Contains(table, "build") || !strings.Contains(table, list[0].Digest) {
		t.Errorf("artifacts table:\n%s", table)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if out := s.mustBerth("run", "download", "arts.1", "--step", "build", "-d", dir); !strings.Contains(out, "2 files of step build unpacked") {
		t.Errorf("download: %s", out)
	}
	fi, err := os.Stat(filepath.Join(dir, "bin", "tool"))
	if err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("bin/tool: %v, %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "dist", "notes.txt")); err != nil || !strings.HasPrefix(string(b), "from ") {
		t.Errorf("dist/notes.txt = %q, %v", b, err)
	}
	for _, tc := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"run", "download", "arts.1", "--step", "test", "-d", dir}, 1, "kept no artifacts"},
		{[]string{"run", "download", "arts.1", "-d", dir}, 2, "--step is required"},
		{[]string{"run", "artifacts", "arts.9"}, 1, "not found"},
	} {
		if out, code := s.berth(tc.args...); code != tc.code || !strings.Contains(out, tc.say) {
			t.Errorf("berth %v: exit %d, want %d saying %q\n%s", tc.args, code, tc.code, tc.say, out)
		}
	}

	// A server whose artifact retention is over at once expires them: the
	// run stays, the listing says when, the download says so (exit 1),
	// and the archive itself waits out the blob grace period (an hour).
	s.stop()
	s = startServer(t, dataDir, apiAddr, gwAddr, "--artifact-retention", "1ms", "--artifact-keep-last", "0", "--retention-sweep-every", "200ms")
	deadline := time.Now().Add(30 * time.Second)
	for {
		table := s.mustBerth("run", "artifacts", "arts.1")
		if strings.Contains(table, "expired 20") {
			if strings.Contains(table, list[0].Digest) {
				t.Errorf("expired artifacts still show their digest:\n%s", table)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("artifacts not expired within 30s:\n%s\n%s", table, s.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, code := s.berth("run", "download", "arts.1", "--step", "build", "-d", dir); code != 1 || !strings.Contains(out, "expired on") {
		t.Errorf("download of expired artifacts: exit %d\n%s", code, out)
	}
	if out := s.mustBerth("run", "show", "arts.1"); !strings.Contains(out, "succeeded") {
		t.Errorf("the run after its artifacts expired:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "blobs", "sha256", strings.TrimPrefix(list[0].Digest, "sha256:"))); err != nil {
		t.Errorf("the expired archive was deleted within the blob grace period: %v", err)
	}
}
