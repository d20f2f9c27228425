package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/audit"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// txAttempts bounds how often a write is retried when it loses a race
// with another writer (the reconciler updating status, a second apply).
const txAttempts = 5

// inTx runs fn in a transaction, again when it fails with a version
// conflict; fn must therefore read everything it writes from tx. On an
// audited route the success record is appended in the same transaction,
// so a change is never committed without its record.
func (s *server) inTx(ctx context.Context, fn func(tx store.Tx) error) error {
	note := auditFrom(ctx)
	var err error
	for range txAttempts {
		err = s.Store.InTx(ctx, func(tx store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			if note == nil || note.written {
				return nil
			}
			if _, err := tx.AppendAudit(ctx, note.record(s.Now(), audit.OutcomeSuccess, 0)); err != nil {
				return fmt.Errorf("audit record: %w", err)
			}
			return nil
		})
		if err == nil && note != nil {
			note.written = true
		}
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
	if err := s.authorizeAny(r.Context(), rbac.AppsRead); err != nil {
		return err
	}
	if _, err := parseSpec(req.Spec); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"valid": true})
	return nil
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
	if err := s.checkSource(r.Context(), req.Source); err != nil {
		return err
	}
	name := ps.app.Name
	setAuditObject(r.Context(), "app/"+name)
	// The team matters only for a new app (or when named); an existing
	// app stays where it is.
	team, teamErr := s.applyTeam(r.Context(), req.Team)
	var resp api.ApplyResponse
	// Comparing source archives takes a while: not in the transaction.
	code := release.Precompared(r.Context(), s.Store, release.BlobCode{Blobs: s.Blobs}, name, ps.canonical, req.Source)
	err = s.inTx(r.Context(), func(tx store.Tx) error {
		a, err := tx.GetApp(r.Context(), name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if teamErr != nil {
				return teamErr
			}
			if err := s.checkEnv(r.Context(), tx, req.Env, team.ID, ps.app); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("get app %s: %w", name, err)
		default:
			if err := s.checkApplyOwner(r.Context(), a, req.Team, team, teamErr); err != nil {
				return err
			}
			if err := s.checkEnv(r.Context(), tx, req.Env, a.Team, ps.app); err != nil {
				return err
			}
			if !a.Deleting && a.Env != req.Env {
				return envMismatch{app: name, has: a.Env, asked: req.Env}
			}
		}
		res, err := release.Apply(r.Context(), tx, release.Input{
			Name: name, Team: team.ID, Env: req.Env, Canonical: ps.canonical, Source: req.Source, Cause: "apply", Now: s.Now(),
			Code: code,
		})
		resp = api.ApplyResponse{App: name, Release: res.Release, Created: res.Created, KeepsInstancesOf: res.KeepsInstancesOf, Revision: res.Revision}
		return err
	})
	if errors.Is(err, release.ErrAppDeleting) {
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

// checkSource accepts "" or the digest of a stored source archive.
func (s *server) checkSource(ctx context.Context, source string) error {
	if source == "" {
		return nil
	}
	if !blob.ValidDigest(source) {
		return invalidField("source", "%q is not a digest (sha256:<64 hex digits>)", source)
	}
	stored := false
	if s.Blobs != nil {
		var err error
		// Touch, not Has: the release about to refer to the archive is
		// written after this check, and an archive uploaded long ago that
		// nothing refers to yet must not be collected in between (blob
		// garbage collection spares what was touched within its grace).
		if stored, err = s.Blobs.Touch(ctx, source); err != nil {
			return fmt.Errorf("look up source archive %s: %w", source, err)
		}
	}
	if !stored {
		return invalidField("source", "archive %s was not uploaded; PUT it to /api/v1/blobs/%s first", source, source)
	}
	return nil
}
