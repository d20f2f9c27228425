package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/snapshot"
)

// The servers' shared state — SSO logins in flight with their PKCE
// verifiers, failed-login counts with emails and addresses — is never in
// a backup, on either backend, and a restored store starts without it.
func TestServerStateNotBackedUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"sqlite", func(t *testing.T) store.Store { return openSQLite(t, filepath.Join(t.TempDir(), "berth.db")) }},
		{"postgres", func(t *testing.T) store.Store { return openPostgres(t, pgtest.URL(t)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := tc.open(t)
			now := time.Now().UTC()
			const verifier, email = "pkce-verifier-do-not-back-up", "guessed-at@example.com"
			if err := st.CreateTeam(ctx, store.Team{ID: "t", Name: "t", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(map[string]any{"login": map[string]string{"verifier": verifier}})
			if err := st.PutSSOPending(ctx, store.SSOPending{Key: "k", Kind: store.SSOLogin, Data: data, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, 10); err != nil {
				t.Fatal(err)
			}
			if err := st.PutLoginThrottle(ctx, store.LoginThrottle{Account: email, Client: "10.0.0.1", Failures: []time.Time{now}, LastFailure: now}); err != nil {
				t.Fatal(err)
			}
			src := st.(snapshot.Source)
			file := backupOf(t, src, nil, "")
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			plain := gunzip(t, raw)
			for _, leak := range []string{"sso_pending", "login_throttles", verifier, email} {
				if bytes.Contains(plain, []byte(leak)) {
					t.Errorf("the backup holds %q", leak)
				}
			}
			dir := t.TempDir()
			if _, err := restoreFile(ctx, file, SQLiteTarget{Path: filepath.Join(dir, "berth.db")}, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			got := openSQLite(t, filepath.Join(dir, "berth.db"))
			sameState(t, src, got)
			if _, err := got.TakeSSOPending(ctx, store.SSOLogin, "k", now); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("restored SSO login: %v", err)
			}
			if _, err := got.GetLoginThrottle(ctx, email, "10.0.0.1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("restored login throttle: %v", err)
			}
			// The source still has them: a backup reads, never takes.
			if _, err := st.GetLoginThrottle(ctx, email, "10.0.0.1"); err != nil {
				t.Errorf("source lost its login throttle: %v", err)
			}
		})
	}
}
