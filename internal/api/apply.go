package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// txAttempts bounds how often a write is retried when it loses a race
// with another writer (the reconciler updating status, a second apply).
const txAttempts = 5

// inTx runs fn in a transaction, again when it fails with a version
// conflict; fn must therefore read everything it writes from tx.
func (s *server) inTx(ctx context.Context, fn func(tx store.Tx) error) error {
	var err error
	for range txAttempts {
		err = s.Store.InTx(ctx, fn)
		if !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	return fmt.Errorf("gave up after %d conflicting attempts: %w", txAttempts, err)
}

// changed tells the reconciler and watchers that app changed.
func (s *server) changed(app string) {
	s.Notify(app)
	s.Changes.Poke()
}

func (s *server) validate(w http.ResponseWriter, r *http.Request) error {
	var req api.ApplyRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := parseSpec(req.Spec); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"valid": true})
	return nil
}

// appliedData is the Data of an app.applied event.
type appliedData struct {
	Cause      string `json:"cause"`
	SpecHash   string `json:"spec_hash"`
	Source     string `json:"source,omitempty"`
	RollbackOf int    `json:"rollback_of,omitempty"`
}

func (s *server) apply(w http.ResponseWriter, r *http.Request) error {
	var req api.ApplyRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	ps, err := parseSpec(req.Spec)
	if err != nil {
		return err
	}
	if err := s.checkSource(req.Source); err != nil {
		return err
	}
	if err := s.checkEnv(r.Context(), req.Env, ps.app); err != nil {
		return err
	}
	name := ps.app.Name
	hash := specHash(ps.canonical, req.Source)
	var resp api.ApplyResponse
	err = s.inTx(r.Context(), func(tx store.Tx) error {
		now := s.Now().UTC()
		resp = api.ApplyResponse{App: name}
		a, err := tx.GetApp(r.Context(), name)
		isNew := errors.Is(err, store.ErrNotFound)
		switch {
		case isNew:
			a = store.App{Name: name, CreatedAt: now, Status: api.AppStatus{Phase: api.PhasePending}, Env: req.Env}
		case err != nil:
			return fmt.Errorf("get app %s: %w", name, err)
		case a.Deleting:
			return errAppDeleting
		case a.Env != req.Env:
			return envMismatch{app: name, has: a.Env, asked: req.Env}
		}
		if a.TargetRelease > 0 {
			target, err := tx.GetRelease(r.Context(), name, a.TargetRelease)
			if err != nil {
				return fmt.Errorf("get release %s/%d: %w", name, a.TargetRelease, err)
			}
			if target.SpecHash == hash {
				resp.Release = target.Number
				resp.Revision, err = tx.LastRevision(r.Context())
				return err
			}
		}
		rel := store.Release{
			App: name, Number: a.LatestRelease + 1, Spec: json.RawMessage(ps.canonical),
			SpecHash: hash, Source: req.Source, Cause: "apply",
			State: api.ReleasePending, CreatedAt: now, UpdatedAt: now,
		}
		rev, err := s.createRelease(r.Context(), tx, a, isNew, rel, appliedData{Cause: rel.Cause, SpecHash: hash, Source: req.Source})
		if err != nil {
			return err
		}
		resp.Release, resp.Created, resp.Revision = rel.Number, true, rev
		return nil
	})
	if errors.Is(err, errAppDeleting) {
		return conflict("app %q is being deleted; apply again once it is gone", name)
	}
	var mismatch envMismatch
	if errors.As(err, &mismatch) {
		return mismatch.httpError()
	}
	if err != nil {
		return fmt.Errorf("apply %s: %w", name, err)
	}
	s.loggerFrom(r.Context()).Info("applied", "app", name, "release", resp.Release, "created", resp.Created)
	s.changed(name)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// createRelease stores rel as the app's new target and records the event,
// whose revision it returns. A new app is created in the same step, so no
// app ever exists without a release.
func (s *server) createRelease(ctx context.Context, tx store.Tx, a store.App, isNew bool, rel store.Release, data appliedData) (int64, error) {
	now := rel.CreatedAt
	a.LatestRelease, a.TargetRelease, a.UpdatedAt = rel.Number, rel.Number, now
	if isNew {
		// The app goes first: the release refers to it.
		if err := tx.CreateApp(ctx, a); err != nil {
			return 0, fmt.Errorf("create app %s: %w", a.Name, err)
		}
	}
	if err := tx.CreateRelease(ctx, rel); err != nil {
		return 0, fmt.Errorf("create release %s/%d: %w", rel.App, rel.Number, err)
	}
	if !isNew {
		if _, err := tx.UpdateApp(ctx, a); err != nil {
			return 0, fmt.Errorf("update app %s: %w", a.Name, err)
		}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	ev := store.Event{Kind: api.EventAppApplied, App: a.Name, Release: rel.Number, Time: now, Data: raw}
	rev, err := tx.AppendEvent(ctx, ev)
	if err != nil {
		return 0, fmt.Errorf("append event: %w", err)
	}
	return rev, nil
}

// checkSource accepts "" or the digest of a stored source archive.
func (s *server) checkSource(source string) error {
	if source == "" {
		return nil
	}
	if !blob.ValidDigest(source) {
		return invalidField("source", "%q is not a digest (sha256:<64 hex digits>)", source)
	}
	if s.Blobs == nil || !s.Blobs.Has(source) {
		return invalidField("source", "archive %s was not uploaded; PUT it to /api/v1/blobs/%s first", source, source)
	}
	return nil
}
