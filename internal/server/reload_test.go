package server

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime/local"
	"github.com/berthdev/berth/pkg/api"
)

var pagePID = regexp.MustCompile(`pid=(\d+) `)

// TestConfigReloadLive runs the server in this process with a real app
// that reads its config file only at start and on SIGHUP. A files-only
// config change (and a config rollback) reaches the same process: a new
// release recording the config version, reload_of naming the release that
// started it. A changed entry (an environment variable) and the same app
// without the declaration roll new processes.
func TestConfigReloadLive(t *testing.T) {
	dataDir := t.TempDir()
	s := startInProcess(t, dataDir, &syncBuffer{})
	t.Cleanup(func() {
		s.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = local.StopAll(ctx, filepath.Join(dataDir, "runtime"))
	})
	ctx := t.Context()
	hotSpec, digest := pack(t, s.c, filepath.Join("..", "..", "test", "e2e", "testdata", "reloadapp"))
	if _, err := s.c.Apply(ctx, api.ApplyRequest{Spec: hotSpec, Source: digest}); err != nil {
		t.Fatal(err)
	}
	waitRelease(t, s.c, "hot", 1, api.ReleaseDeployed)
	page := waitHostPage(t, s.gw, "hot.localhost", "reloads=0 file=-")
	pid := pidOf(t, page)

	steps := []struct {
		desc    string
		change  func() (api.ConfigChange, error)
		release int
		version int
		page    string
	}{
		{desc: "a new file", release: 2, version: 1, page: "reloads=1 file=mode=one", change: func() (api.ConfigChange, error) {
			return s.c.SetConfig(ctx, "hot", api.ConfigUpdate{Files: map[string]string{"app.conf": "mode=one"}})
		}},
		{desc: "a changed file", release: 3, version: 2, page: "reloads=2 file=mode=two", change: func() (api.ConfigChange, error) {
			return s.c.SetConfig(ctx, "hot", api.ConfigUpdate{Files: map[string]string{"app.conf": "mode=two"}})
		}},
		{desc: "a config rollback", release: 4, version: 3, page: "reloads=3 file=mode=one", change: func() (api.ConfigChange, error) {
			return s.c.RollbackConfig(ctx, "hot", api.ConfigRollbackRequest{})
		}},
	}
	for _, st := range steps {
		ch, err := st.change()
		if err != nil || ch.Release != st.release || ch.ReloadOf != 1 {
			t.Fatalf("%s: %+v %v; want release %d reloading release 1's instances", st.desc, ch, err, st.release)
		}
		waitRelease(t, s.c, "hot", st.release, api.ReleaseDeployed)
		page := waitHostPage(t, s.gw, "hot.localhost", st.page)
		if got := pidOf(t, page); got != pid {
			t.Fatalf("%s: the page comes from pid %s, want the same process %s", st.desc, got, pid)
		}
		rel, err := s.c.GetRelease(ctx, "hot", st.release)
		if err != nil {
			t.Fatal(err)
		}
		if rel.Config == nil || rel.Config.Version != st.version || rel.Config.ReloadOf != 1 {
			t.Fatalf("%s: release %d config %+v; want version %d reloaded into release 1's instances", st.desc, st.release, rel.Config, st.version)
		}
	}

	// An entry is an environment variable: new instances.
	ch, err := s.c.SetConfig(ctx, "hot", api.ConfigUpdate{Set: map[string]string{"GREETING": "hi"}})
	if err != nil || ch.Release != 5 || ch.ReloadOf != 0 {
		t.Fatalf("config set entry: %+v %v; want release 5, rolled out", ch, err)
	}
	waitRelease(t, s.c, "hot", 5, api.ReleaseDeployed)
	page = waitHostPage(t, s.gw, "hot.localhost", "reloads=0 file=mode=one greeting=hi")
	if got := pidOf(t, page); got == pid {
		t.Fatalf("a changed entry kept process %s; want a new one", pid)
	}
	if rel, err := s.c.GetRelease(ctx, "hot", 5); err != nil || rel.Config == nil || rel.Config.ReloadOf != 0 {
		t.Fatalf("release 5: %+v %v; want a rollout (no reload_of)", rel.Config, err)
	}

	// The same app without the declaration rolls on a file change.
	coldSpec := strings.NewReplacer("name: hot", "name: cold", "hot.localhost", "cold.localhost",
		"    config:\n      reload: signal\n      signal: SIGHUP\n", "").Replace(hotSpec)
	if _, err := s.c.Apply(ctx, api.ApplyRequest{Spec: coldSpec, Source: digest}); err != nil {
		t.Fatal(err)
	}
	waitRelease(t, s.c, "cold", 1, api.ReleaseDeployed)
	coldPID := pidOf(t, waitHostPage(t, s.gw, "cold.localhost", "reloads=0 file=-"))
	if ch, err := s.c.SetConfig(ctx, "cold", api.ConfigUpdate{Files: map[string]string{"app.conf": "mode=cold"}}); err != nil || ch.Release != 2 {
		t.Fatalf("config set cold: %+v %v", ch, err)
	}
	waitRelease(t, s.c, "cold", 2, api.ReleaseDeployed)
	page = waitHostPage(t, s.gw, "cold.localhost", "reloads=0 file=mode=cold")
	if got := pidOf(t, page); got == coldPID {
		t.Fatalf("an app that does not reload live kept process %s", got)
	}
	for _, app := range []string{"hot", "cold"} {
		if err := s.c.DeleteApp(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
}

func pidOf(t *testing.T, page string) string {
	t.Helper()
	m := pagePID.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page %q has no pid", page)
	}
	return m[1]
}
