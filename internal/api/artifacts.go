package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// listArtifacts answers the artifact archives a run's steps kept, in the
// order of the steps. Reading them is reading the run (pipelines:read in
// its team; another team's run answers 404).
func (s *server) listArtifacts(w http.ResponseWriter, r *http.Request) error {
	run, err := s.loadRun(r, rbac.PipelinesRead)
	if err != nil {
		return err
	}
	out := []api.StepArtifacts{}
	for _, st := range run.Steps {
		if a := toAPIArtifacts(st); a != nil {
			out = append(out, *a)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// downloadArtifacts streams one step's archive (application/gzip) from the
// blob store, which any server sharing the database can read.
func (s *server) downloadArtifacts(w http.ResponseWriter, r *http.Request) error {
	run, err := s.loadRun(r, rbac.PipelinesRead)
	if err != nil {
		return err
	}
	name := r.PathValue("step")
	i := slices.IndexFunc(run.Steps, func(st store.RunStep) bool { return st.Name == name })
	if i < 0 {
		return notFound("run %s has no step %q", run.ID, name)
	}
	a := run.Steps[i].Artifacts
	if a == nil {
		return notFound("step %s of run %s kept no artifacts (status %s)", name, run.ID, run.Steps[i].Status)
	}
	if !a.Kept() {
		return newError(http.StatusGone, api.CodeGone, "the artifacts of step %s of run %s expired on %s (the server's artifact retention); the run and its log are kept",
			name, run.ID, a.ExpiredAt.UTC().Format(time.RFC3339))
	}
	if s.Blobs == nil {
		return newError(http.StatusServiceUnavailable, api.CodeUnavailable, "this server has no blob store")
	}
	rc, size, err := s.Blobs.Open(r.Context(), a.Digest)
	if errors.Is(err, blob.ErrNotFound) {
		return notFound("the artifacts of step %s of run %s are no longer stored", name, run.ID)
	}
	if err != nil {
		return fmt.Errorf("open artifacts %s: %w", a.Digest, err)
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", run.ID+"-"+name+".tar.gz"))
	w.Header().Set("X-Berth-Digest", a.Digest)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil && r.Context().Err() == nil {
		// Headers are sent: the client sees a short body (and a digest
		// that does not match), the log says why.
		s.loggerFrom(r.Context()).Warn("artifact download ended early", "run", run.ID, "step", name, "err", err)
	}
	return nil
}

func toAPIArtifacts(st store.RunStep) *api.StepArtifacts {
	a := st.Artifacts
	if a == nil {
		return nil
	}
	files := slices.Clone(a.Files)
	if files == nil {
		files = []string{} // an expired archive lists none
	}
	return &api.StepArtifacts{Step: st.Name, Digest: a.Digest, Size: a.Size, Count: a.Count, Files: files, Bytes: a.Bytes, ExpiredAt: a.ExpiredAt}
}
