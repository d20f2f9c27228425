package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// uploadArtifacts takes a step's artifact archive from the step agent in
// its pod. The step token (X-Berth-Step-Token) is the only credential: it
// must hash to what the run's step recorded for its current attempt, and
// the run and step must still be running — a token of another run or
// step, or of a step that ended, stores nothing. The archive must be a
// tar.gz of regular files with clean relative names, within
// MaxArtifactBytes; it goes to the blob store (any server sharing the
// database serves it) and is recorded on the run's step.
func (s *server) uploadArtifacts(w http.ResponseWriter, r *http.Request) error {
	id, name := r.PathValue("run"), r.PathValue("step")
	setAuditObject(r.Context(), "run/"+id+"/"+name)
	tok := r.Header.Get(artifact.TokenHeader)
	if _, _, err := s.tokenStep(r, id, name, tok, "send its artifacts"); err != nil {
		return err
	}
	if s.Blobs == nil {
		return newError(http.StatusServiceUnavailable, api.CodeUnavailable, "this server has no blob store")
	}
	p, err := s.receiveArchive(w, r, s.MaxArtifactBytes, nil, "artifacts", "an artifact archive (a tar.gz of regular files with relative names)")
	if err != nil {
		return err
	}
	rec := artifact.Record(p)
	if err := s.recordArtifacts(r, id, name, tok, rec); err != nil {
		return err
	}
	s.loggerFrom(r.Context()).Info("stored step artifacts", "run", id, "step", name, "digest", p.Digest, "files", rec.Count)
	writeJSON(w, http.StatusCreated, *toAPIArtifacts(store.RunStep{Name: name, Artifacts: rec}))
	return nil
}

// receiveArchive checks the body as an archive of at most max bytes of
// content (check, if not nil, refuses names too) and puts it in the blob
// store: 413 when too large, 422 when it is not form, and nothing stored
// then. what names the archive in errors.
func (s *server) receiveArchive(w http.ResponseWriter, r *http.Request, max int64, check func(string) error, what, form string) (artifact.Packed, error) {
	if r.ContentLength > max {
		return artifact.Packed{}, tooLarge(max)
	}
	p, tmp, err := spoolArchive(w, r.Body, max, check)
	if tmp != nil {
		defer os.Remove(tmp.Name())
		defer tmp.Close()
	}
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr) || errors.Is(err, artifact.ErrTooLarge):
		return p, tooLarge(max)
	case errors.Is(err, artifact.ErrBadArchive):
		return p, invalidField("body", "not %s: %v", form, err)
	case err != nil:
		return p, fmt.Errorf("receive %s: %w", what, err)
	}
	if err := s.Blobs.Put(r.Context(), p.Digest, tmp, p.Size); err != nil {
		if errors.Is(err, blob.ErrDigestMismatch) {
			return p, fmt.Errorf("store %s: the spooled archive changed: %w", what, err)
		}
		return p, fmt.Errorf("store %s: %w", what, err)
	}
	return p, nil
}

// tokenStep reads run id and finds its step name whose current attempt
// holds the step token tok; the run and step must still be running. A
// missing or wrong token, of another run or step, is 401 (a guessed run
// ID learns nothing); an ended step or run is 403. what says what the
// step's pod came to do.
func (s *server) tokenStep(r *http.Request, id, name, tok, what string) (store.Run, int, error) {
	bad := newError(http.StatusUnauthorized, api.CodeUnauthorized, "a valid step token is required in %s: only the step's own pod may %s", artifact.TokenHeader, what)
	if !runIDRE.MatchString(id) || tok == "" {
		return store.Run{}, 0, bad
	}
	run, err := s.Store.GetRun(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Run{}, 0, bad
	}
	if err != nil {
		return store.Run{}, 0, fmt.Errorf("get run %s: %w", id, err)
	}
	i := slices.IndexFunc(run.Steps, func(st store.RunStep) bool { return st.Name == name })
	if i < 0 || !artifact.TokenMatches(run.Steps[i].UploadToken, tok) {
		return store.Run{}, 0, bad
	}
	if store.RunTerminal(run.State) || run.Steps[i].Status != "running" {
		return store.Run{}, 0, newError(http.StatusForbidden, api.CodeForbidden, "step %s of run %s is not running (run %s, step %s): its token expired with it", name, id, run.State, run.Steps[i].Status)
	}
	return run, i, nil
}

// spoolArchive copies the body to a temporary file, hashing it, and reads
// it back as an archive to check and list it; check, if not nil, refuses
// names too. The caller removes the file.
func spoolArchive(w http.ResponseWriter, body io.Reader, max int64, check func(name string) error) (artifact.Packed, *os.File, error) {
	tmp, err := os.CreateTemp("", "berth-upload-*")
	if err != nil {
		return artifact.Packed{}, nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), http.MaxBytesReader(w, io.NopCloser(body), max))
	if err != nil {
		return artifact.Packed{}, tmp, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return artifact.Packed{}, tmp, err
	}
	p := artifact.Packed{Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: n}
	p.Files, err = artifact.Walk(tmp, max, func(name string, _ int64, content io.Reader) error {
		if check != nil {
			if err := check(name); err != nil {
				return err
			}
		}
		c, err := io.Copy(io.Discard, content)
		p.Bytes += c
		return err
	})
	if err != nil {
		return p, tmp, err
	}
	slices.Sort(p.Files)
	_, err = tmp.Seek(0, io.SeekStart)
	return p, tmp, err
}

// recordArtifacts writes rec on the run's step (see updateTokenStep).
func (s *server) recordArtifacts(r *http.Request, id, step, tok string, rec *store.StepArtifacts) error {
	return s.updateTokenStep(r, id, step, tok, "its artifacts were sent", func(st *store.RunStep) { st.Artifacts = rec })
}

// updateTokenStep changes the run's step with fn, checking the token and
// state again in the same write: a step that ended meanwhile (while
// during says what happened) keeps nothing.
func (s *server) updateTokenStep(r *http.Request, id, step, tok, during string, fn func(*store.RunStep)) error {
	for range 10 {
		run, err := s.Store.GetRun(r.Context(), id)
		if err != nil {
			return fmt.Errorf("get run %s: %w", id, err)
		}
		i := slices.IndexFunc(run.Steps, func(st store.RunStep) bool { return st.Name == step })
		if i < 0 || !artifact.TokenMatches(run.Steps[i].UploadToken, tok) || store.RunTerminal(run.State) || run.Steps[i].Status != "running" {
			return newError(http.StatusForbidden, api.CodeForbidden, "step %s of run %s ended while %s: nothing was recorded", step, id, during)
		}
		fn(&run.Steps[i])
		run.UpdatedAt = s.Now().UTC()
		if _, err := s.Store.UpdateRun(r.Context(), run); errors.Is(err, store.ErrConflict) {
			continue
		} else if err != nil {
			return fmt.Errorf("update run %s: %w", id, err)
		}
		return nil
	}
	return fmt.Errorf("update run %s: %w", id, store.ErrConflict)
}
