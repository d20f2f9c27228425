package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/pkg/api"
)

// putBlob stores a source archive under its digest. The blob store checks
// the content against the digest, so a release can trust what it names.
func (s *server) putBlob(w http.ResponseWriter, r *http.Request) error {
	digest := r.PathValue("digest")
	if !blob.ValidDigest(digest) {
		return invalidField("digest", "%q is not a digest (sha256:<64 lower-case hex digits>)", digest)
	}
	setAuditObject(r.Context(), "blob/"+digest)
	// Archives are content-addressed and shared: anyone who may deploy
	// somewhere may upload one; a release names it inside its own team.
	if err := s.authorizeAny(r.Context(), rbac.AppsDeploy); err != nil {
		return err
	}
	if s.Blobs == nil {
		return newError(http.StatusServiceUnavailable, api.CodeUnavailable, "this server does not store source archives")
	}
	if r.ContentLength > s.MaxBlobBytes {
		return tooLarge(s.MaxBlobBytes)
	}
	body := http.MaxBytesReader(w, r.Body, s.MaxBlobBytes)
	err := s.Blobs.Put(r.Context(), digest, body, s.MaxBlobBytes)
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return tooLarge(maxErr.Limit)
	case errors.Is(err, blob.ErrTooLarge):
		return tooLarge(s.MaxBlobBytes)
	case errors.Is(err, blob.ErrDigestMismatch):
		got := strings.TrimPrefix(err.Error(), blob.ErrDigestMismatch.Error()+": got ")
		return invalidField("digest", "the uploaded content does not hash to %s; it hashes to %s", digest, got)
	case err != nil:
		return fmt.Errorf("store blob %s: %w", digest, err)
	}
	s.loggerFrom(r.Context()).Info("stored source archive", "digest", digest)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
