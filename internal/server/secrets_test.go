package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime/local"
	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func secretHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return fmt.Sprintf("%x", sum[:8])
}

// waitPage waits until the app's page says want.
func waitPage(t *testing.T, gw, want string) string {
	t.Helper()
	return waitHostPage(t, gw, "vault.localhost", want)
}

// waitHostPage waits until the page of host says want.
func waitHostPage(t *testing.T, gw, host, want string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var got string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+gw+"/", nil)
		req.Host = host
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got = string(b); strings.Contains(got, want) {
				return got
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("page never said %q; last: %q", want, got)
	return ""
}

// leaks lists the files under dir holding canary, except what an instance
// needs (its secrets.json) and what it wrote itself (its output logs).
func leaks(t *testing.T, dir, canary string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while walking (an instance stopping)
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if d.Name() == "secrets.json" || filepath.Base(filepath.Dir(p)) == "logs" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if bytes.Contains(b, []byte(canary)) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSecretsAndConfigReachInstances runs the server in this process with a
// real app: a release that names an unset secret fails, setting it rolls
// the app, config changes and their rollback roll it too, the secret's
// value is in no database file, log, API answer or runtime state file, and
// a key rotation keeps it readable.
func TestSecretsAndConfigReachInstances(t *testing.T) {
	const canary = "canary-srv-b81c3a-Mn"
	dataDir := t.TempDir()
	log := &syncBuffer{}
	s := startInProcess(t, dataDir, log)
	t.Cleanup(func() {
		s.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = local.StopAll(ctx, filepath.Join(dataDir, "runtime"))
	})
	ctx := t.Context()
	fi, err := os.Stat(filepath.Join(dataDir, MasterKeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v, %v; want mode 0600", fi, err)
	}

	specText, digest := pack(t, s.c, filepath.Join("..", "..", "test", "e2e", "testdata", "configapp"))
	if _, err := s.c.Apply(ctx, api.ApplyRequest{Spec: specText, Source: digest}); err != nil {
		t.Fatal(err)
	}
	rel := waitReleaseState(t, s.c, "vault", 1, api.ReleaseFailed)
	if rel.Reason != "SecretMissing" || !strings.Contains(rel.Message, "DB_PASSWORD") || !strings.Contains(rel.Message, "berth secret set vault DB_PASSWORD") {
		t.Fatalf("release 1 = %s: %s; want SecretMissing naming DB_PASSWORD and the command", rel.Reason, rel.Message)
	}

	ch, err := s.c.SetSecret(ctx, "vault", "DB_PASSWORD", canary)
	if err != nil || ch.Release != 2 {
		t.Fatalf("set secret: %+v %v", ch, err)
	}
	waitRelease(t, s.c, "vault", 2, api.ReleaseDeployed)
	waitPage(t, s.gw, "greeting=hello secret="+secretHash(canary)+" file=-")

	ch, err = s.c.SetConfig(ctx, "vault", api.ConfigUpdate{Set: map[string]string{"GREETING": "bonjour"}, Files: map[string]string{"app.conf": "mode=one"}})
	if err != nil || ch.Release != 3 {
		t.Fatalf("config set: %+v %v", ch, err)
	}
	waitRelease(t, s.c, "vault", 3, api.ReleaseDeployed)
	waitPage(t, s.gw, "greeting=bonjour secret="+secretHash(canary)+" file=mode=one release=3")
	if _, err := s.c.SetConfig(ctx, "vault", api.ConfigUpdate{Set: map[string]string{"GREETING": "hola"}}); err != nil {
		t.Fatal(err)
	}
	waitRelease(t, s.c, "vault", 4, api.ReleaseDeployed)
	waitPage(t, s.gw, "greeting=hola")
	ch, err = s.c.RollbackConfig(ctx, "vault", api.ConfigRollbackRequest{})
	if err != nil || ch.Config.Version != 3 || ch.Release != 5 {
		t.Fatalf("config rollback: %+v %v", ch, err)
	}
	waitRelease(t, s.c, "vault", 5, api.ReleaseDeployed)
	waitPage(t, s.gw, "greeting=bonjour secret="+secretHash(canary)+" file=mode=one release=5")

	// The app printed its password: the logs API masks it.
	rc, err := s.c.Logs(ctx, "vault", client.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(logs), "connecting with DB_PASSWORD=***") || strings.Contains(string(logs), canary) {
		t.Errorf("logs API did not mask the secret:\n%s", logs)
	}
	var answers []any
	for _, f := range []func() (any, error){
		func() (any, error) { return s.c.GetApp(ctx, "vault") },
		func() (any, error) { return s.c.ListReleases(ctx, "vault") },
		func() (any, error) { return s.c.ListSecrets(ctx, "vault") },
		func() (any, error) { return s.c.GetConfig(ctx, "vault", "", 0) },
	} {
		v, err := f()
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, v)
	}
	if strings.Contains(fmt.Sprintf("%+v", answers), canary) {
		t.Errorf("an API answer holds the secret")
	}
	if l := leaks(t, dataDir, canary); len(l) > 0 {
		t.Errorf("files holding the secret: %v", l)
	}
	if strings.Contains(log.String(), canary) {
		t.Errorf("the server log holds the secret")
	}

	// Rotation, offline: refused while the server runs, then every secret
	// opens with the new key only, and the app still gets its value.
	if _, err := RotateKey(ctx, RotateConfig{DataDir: dataDir, LookupEnv: noEnv}); err == nil || !strings.Contains(err.Error(), "running") {
		t.Fatalf("rotate-key with the server running: %v, want refusal", err)
	}
	s.stop()
	oldKey, _ := os.ReadFile(filepath.Join(dataDir, MasterKeyFileName))
	res, err := RotateKey(ctx, RotateConfig{DataDir: dataDir, LookupEnv: noEnv})
	if err != nil || res.Rotated != 1 || res.OldKeyID == res.NewKeyID {
		t.Fatalf("rotate-key: %+v %v", res, err)
	}
	newKey, _ := os.ReadFile(filepath.Join(dataDir, MasterKeyFileName))
	if bytes.Equal(oldKey, newKey) {
		t.Fatal("the key file still holds the old key")
	}
	if err := os.Remove(res.OldKeyFile); err != nil {
		t.Fatal(err) // retire the old key: only the new one may be needed
	}
	s = startInProcess(t, dataDir, log)
	if _, err := s.c.SetConfig(ctx, "vault", api.ConfigUpdate{Set: map[string]string{"GREETING": "after-rotation"}}); err != nil {
		t.Fatal(err)
	}
	waitRelease(t, s.c, "vault", 6, api.ReleaseDeployed)
	waitPage(t, s.gw, "greeting=after-rotation secret="+secretHash(canary))
	if strings.Contains(log.String(), "do not open") {
		t.Errorf("the server found secrets it cannot open after the rotation:\n%s", log)
	}
	if err := s.c.DeleteApp(ctx, "vault"); err != nil {
		t.Fatal(err)
	}
}

func noEnv(string) (string, bool) { return "", false }

func waitReleaseState(t *testing.T, c *client.Client, app string, n int, state string) api.Release {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		r, err := c.GetRelease(t.Context(), app, n)
		if err != nil {
			t.Fatal(err)
		}
		if r.State == state {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("release %d is %s (%s: %s), want %s", n, r.State, r.Reason, r.Message, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
