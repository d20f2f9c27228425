package runner

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/webhook"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/store"
)

// loadHookKey reads the key webhook secrets are derived from, creating it
// on first use.
func loadHookKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 64 {
		key, err := hex.DecodeString(string(b))
		if err == nil {
			return key, nil
		}
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("runner: webhook key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("runner: webhook key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("runner: webhook key: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		return nil, fmt.Errorf("runner: webhook key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("runner: webhook key: %w", err)
	}
	return key, nil
}

// HookSecret is the secret of app's webhooks: derived from the server's
// key, so every app has its own without storing one, and a leaked secret
// of one app says nothing of another's.
func (r *Runner) HookSecret(app string) string {
	mac := hmac.New(sha256.New, r.hookKey)
	mac.Write([]byte("berth webhook\x00" + app))
	return hex.EncodeToString(mac.Sum(nil))
}

// HookPath is where a forge sends app's webhooks.
func HookPath(forge, app string) string { return "/api/v1/hooks/" + forge + "/" + app }

// Forges lists the forges webhooks are understood from.
var Forges = []string{string(webhook.GitHub), string(webhook.Gitea), string(webhook.GitLab)}

// storeSeen is the persistent replay record.
type storeSeen struct{ r *Runner }

func (s storeSeen) Seen(ctx context.Context, id string) (bool, error) {
	return s.r.st.RecordDelivery(ctx, id, s.r.opts.Now().UTC())
}

// ServeHook answers a webhook for app from forge: verified with the app's
// secret before anything of it is parsed (401), refused if its delivery ID
// was seen (409), and then a run is queued for a push, tag or pull request.
func (r *Runner) ServeHook(w http.ResponseWriter, req *http.Request, forge, app string) {
	f := webhook.Forge(strings.ToLower(forge))
	switch f {
	case webhook.GitHub, webhook.Gitea, webhook.GitLab:
	default:
		http.Error(w, fmt.Sprintf("unknown forge %q; use one of %s", forge, strings.Join(Forges, ", ")), http.StatusNotFound)
		return
	}
	rc := &webhook.Receiver{Forge: f, Secret: []byte(r.HookSecret(app)), Seen: storeSeen{r}}
	webhook.Handler(r.log, rc, func(ctx context.Context, ev *webhook.Event) error {
		return r.startFromHook(ctx, app, ev)
	}).ServeHTTP(w, req)
}

func (r *Runner) startFromHook(ctx context.Context, app string, ev *webhook.Event) error {
	d := Detail{Delivery: ev.DeliveryID, Forge: string(ev.Forge), Sender: ev.Sender, Branch: ev.Branch, Tag: ev.Tag, ChangedPaths: ev.ChangedPaths}
	if ev.PullRequest != nil {
		d.PullRequest, d.FromFork = ev.PullRequest.Number, ev.PullRequest.FromFork
	}
	run, err := r.Start(ctx, StartRequest{
		App: app, Trigger: ev.Kind, Ref: ev.Ref, Commit: ev.Commit, Before: ev.Before, Detail: d, By: string(ev.Forge),
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: app %s no longer exists", webhook.ErrIgnored, app)
	case errors.Is(err, pipeline.ErrNoSource), errors.Is(err, release.ErrAppDeleting):
		return fmt.Errorf("%w: %w", webhook.ErrIgnored, err)
	case err != nil:
		return err
	}
	r.log.InfoContext(ctx, "webhook queued a run", "run", run.ID, "forge", ev.Forge, "delivery", ev.DeliveryID)
	return nil
}
