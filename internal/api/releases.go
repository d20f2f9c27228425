package api

import (
	"errors"
	"fmt"
	"maps"
	"net/http"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

func (s *server) listReleases(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	if _, err := s.loadApp(r.Context(), s.Store, name, rbac.AppsRead); err != nil {
		return err
	}
	rels, err := s.Store.ListReleases(r.Context(), name)
	if err != nil {
		return fmt.Errorf("list releases of %s: %w", name, err)
	}
	out := make([]api.Release, 0, len(rels))
	for _, rel := range rels {
		out = append(out, toAPIRelease(rel))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getRelease(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	n, err := positiveInt("release", r.PathValue("release"))
	if err != nil {
		return err
	}
	if _, err := s.loadApp(r.Context(), s.Store, name, rbac.AppsRead); err != nil {
		return err
	}
	rel, err := loadRelease(r.Context(), s.Store, name, n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIRelease(rel))
	return nil
}

// rollback redeploys an earlier release's spec, source and artifacts as a
// new release, so history only grows and "what runs" is always the newest
// release.
func (s *server) rollback(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	var req api.RollbackRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.To < 0 {
		return invalidField("to", "%d is not a release number (0 for the previous release, or 1, 2, ...)", req.To)
	}
	resp := api.ApplyResponse{App: name, Created: true}
	code := s.rollbackCode(r, name, req.To)
	err = s.inTx(r.Context(), func(tx store.Tx) error {
		a, err := s.loadApp(r.Context(), tx, name, rbac.AppsDeploy)
		if err != nil {
			return err
		}
		if a.Deleting {
			return errAppDeleting
		}
		from, err := rollbackSource(r, tx, a, req.To)
		if err != nil {
			return err
		}
		// The code and spec go back; the configuration stays what the
		// config set and secrets say now (they have their own history).
		sp, err := release.SpecOf(from)
		if err != nil {
			return err
		}
		snap, err := release.ConfigSnapshot(r.Context(), tx, a, sp)
		if err != nil {
			return err
		}
		arts := from.Artifacts
		// Back over a change only pipeline runs read: the running
		// instances stay, as they did going forward.
		if target, err := tx.GetRelease(r.Context(), name, a.TargetRelease); err != nil {
			return fmt.Errorf("get release %s/%d: %w", name, a.TargetRelease, err)
		} else if keep, err := release.KeepsInstancesOf(r.Context(), code, a, target, from.Spec, from.Source, snap); err != nil {
			return err
		} else if keep != 0 {
			snap.ReloadOf, snap.PipelineOnly, arts = keep, true, target.Artifacts
			resp.KeepsInstancesOf = keep
		}
		now := s.Now().UTC()
		rel := store.Release{
			App: name, Number: a.LatestRelease + 1, Spec: from.Spec, SpecHash: from.SpecHash,
			Source: from.Source, Artifacts: maps.Clone(arts), Cause: "rollback",
			RollbackOf: from.Number, Config: snap, State: api.ReleasePending, CreatedAt: now, UpdatedAt: now,
		}
		data := release.AppliedData{Cause: rel.Cause, SpecHash: rel.SpecHash, Source: rel.Source, RollbackOf: from.Number}
		rev, err := release.Create(r.Context(), tx, a, false, rel, data)
		if err != nil {
			return err
		}
		resp.Release, resp.Revision = rel.Number, rev
		return nil
	})
	if errors.Is(err, errAppDeleting) {
		return conflict("app %q is being deleted", name)
	}
	if err != nil {
		return err
	}
	s.loggerFrom(r.Context()).Info("rolled back", "app", name, "release", resp.Release, "to", req.To)
	s.changed(name)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// rollbackCode compares, before the rollback's write transaction, the
// archives the transaction is about to compare (release.Precompared, as
// an apply does): a rollback over a pipeline-only change reads both, which
// SQLite's one write lock should not wait for. Only once the caller may
// deploy the app; any failure here leaves the comparison to the
// transaction, which reads everything again and answers for itself.
func (s *server) rollbackCode(r *http.Request, name string, to int) release.CodeComparer {
	code := release.BlobCode{Blobs: s.Blobs}
	a, err := s.loadApp(r.Context(), s.Store, name, rbac.AppsDeploy)
	if err != nil || a.Deleting {
		return code
	}
	from, err := rollbackSource(r, s.Store, a, to)
	if err != nil {
		return code
	}
	return release.Precompared(r.Context(), s.Store, code, name, from.Spec, from.Source)
}

// rollbackSource picks the release to copy: the one asked for, or (to 0)
// the newest release older than the target that was deployed once.
func rollbackSource(r *http.Request, tx store.Releases, a store.App, to int) (store.Release, error) {
	if to > 0 {
		if to == a.TargetRelease {
			return store.Release{}, invalidField("to", "release %d is already the target of app %q", to, a.Name)
		}
		rel, err := tx.GetRelease(r.Context(), a.Name, to)
		if errors.Is(err, store.ErrNotFound) {
			return store.Release{}, notFound("release %d of app %q not found (the latest is %d)", to, a.Name, a.LatestRelease)
		}
		if err != nil {
			return store.Release{}, fmt.Errorf("get release %s/%d: %w", a.Name, to, err)
		}
		return rel, nil
	}
	rels, err := tx.ListReleases(r.Context(), a.Name)
	if err != nil {
		return store.Release{}, fmt.Errorf("list releases of %s: %w", a.Name, err)
	}
	for i := len(rels) - 1; i >= 0; i-- {
		rel := rels[i]
		if rel.Number < a.TargetRelease && (rel.State == api.ReleaseDeployed || rel.State == api.ReleaseSuperseded) {
			return rel, nil
		}
	}
	return store.Release{}, invalidField("to", "app %q has no deployed release older than release %d to roll back to; name one with \"to\"", a.Name, a.TargetRelease)
}
