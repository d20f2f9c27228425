package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// The caches of steps on a cluster: the step agent in the pod restores
// the step's cache before its script and saves it after, with the step's
// token. The server expanded the key when the attempt started and wrote
// it on the run's step; the agent never names a key, so a step reaches
// exactly its own key of its own app's caches.

// cacheStep is the step a cache request's token opens and the key the
// server gave it: 401 and 403 as tokenStep, 409 for a step without a
// cache, 503 without a blob store. what says what the pod came to do.
type cacheStep struct {
	run      store.Run
	id, name string
	tok, key string
}

func (s *server) openCacheStep(r *http.Request, what string) (cacheStep, error) {
	c := cacheStep{id: r.PathValue("run"), name: r.PathValue("step"), tok: r.Header.Get(artifact.TokenHeader)}
	run, i, err := s.tokenStep(r, c.id, c.name, c.tok, what)
	if err != nil {
		return c, err
	}
	c.run = run
	if sc := run.Steps[i].Cache; sc != nil && sc.Key != "" {
		c.key = sc.Key
	} else {
		return c, conflict("step %s of run %s has no cache (cache: in the pipeline)", c.name, c.id)
	}
	if s.Blobs == nil {
		return c, newError(http.StatusServiceUnavailable, api.CodeUnavailable, "this server has no blob store")
	}
	return c, nil
}

// restoreCache sends the step's cache archive: 404 is a miss.
func (s *server) restoreCache(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.openCacheStep(r, "restore its cache")
	if err != nil {
		return err
	}
	run, id, name, tok, key := cs.run, cs.id, cs.name, cs.tok, cs.key
	log := s.loggerFrom(r.Context()).With("run", id, "step", name, "key", key)
	c, err := s.Store.GetPipelineCache(r.Context(), run.App, key)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no cache of key %s yet", key)
	}
	if err != nil {
		return fmt.Errorf("get cache %s: %w", key, err)
	}
	rc, size, err := s.Blobs.Open(r.Context(), c.Digest)
	if errors.Is(err, blob.ErrNotFound) {
		// The row outlived its blob (a restored backup carries rows, not
		// cache archives): forget it, so this step's save stores the key
		// anew. Only that row: if it was evicted and the key saved again
		// since it was read, the new cache names other content and stays.
		log.Warn("a pipeline cache's archive is gone; the cache is forgotten", "digest", c.Digest)
		if err := s.Store.DeletePipelineCache(r.Context(), run.App, key, c.Digest); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("forget cache %s: %w", key, err)
		}
		return notFound("no cache of key %s (its archive is no longer stored)", key)
	}
	if err != nil {
		return fmt.Errorf("open cache %s: %w", key, err)
	}
	defer rc.Close()
	// Used now: eviction counts from here. A failed touch costs at worst
	// an earlier eviction, so it does not fail the restore.
	if err := s.Store.TouchPipelineCache(r.Context(), run.App, key, s.Now().UTC()); err != nil {
		log.Warn("marking a pipeline cache used failed", "err", err)
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.Header().Set("X-Berth-Digest", c.Digest)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		// Headers are sent: the agent sees a short body, fails its
		// restore and runs the step as on a miss.
		log.Warn("sending a pipeline cache ended early", "err", err)
		return nil
	}
	if err := s.updateTokenStep(r, id, name, tok, "its cache was restored", func(st *store.RunStep) {
		if st.Cache != nil && st.Cache.Key == key {
			st.Cache.Hit = true
		}
	}); err != nil {
		log.Warn("recording a cache hit failed", "err", err)
	}
	return nil
}

// saveCache takes the step's cache archive. The first save of a key wins:
// a key that has a cache already is answered 200 with saved false, and
// nothing is stored. The archive must be a tar.gz of regular files under
// src/ and home/, within MaxCacheBytes.
func (s *server) saveCache(w http.ResponseWriter, r *http.Request) error {
	setAuditObject(r.Context(), "run/"+r.PathValue("run")+"/"+r.PathValue("step"))
	cs, err := s.openCacheStep(r, "save its cache")
	if err != nil {
		return err
	}
	run, id, name, tok, key := cs.run, cs.id, cs.name, cs.tok, cs.key
	if _, err := s.Store.GetPipelineCache(r.Context(), run.App, key); err == nil {
		writeJSON(w, http.StatusOK, api.CacheSave{Key: key})
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("get cache %s: %w", key, err)
	}
	p, err := s.receiveArchive(w, r, s.MaxCacheBytes, artifact.CheckCacheName, "cache", "a cache archive (a tar.gz of regular files under src/ and home/)")
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	created, err := s.Store.CreatePipelineCache(r.Context(), store.PipelineCache{App: run.App, Key: key, Digest: p.Digest, Size: p.Size, CreatedAt: now, LastUsedAt: now})
	if err != nil {
		return fmt.Errorf("record cache %s: %w", key, err)
	}
	if !created {
		// Another run saved the key while this archive came in: its blob
		// stays unreferenced until the blob collector takes it.
		writeJSON(w, http.StatusOK, api.CacheSave{Key: key})
		return nil
	}
	if err := s.updateTokenStep(r, id, name, tok, "its cache was saved", func(st *store.RunStep) {
		if st.Cache != nil && st.Cache.Key == key {
			st.Cache.Saved = true
		}
	}); err != nil {
		// The cache is kept (it is the key's, whoever saved it); only the
		// step's record misses it.
		s.loggerFrom(r.Context()).Warn("recording a cache save failed", "run", id, "step", name, "err", err)
	}
	s.loggerFrom(r.Context()).Info("stored a pipeline cache", "run", id, "step", name, "key", key, "digest", p.Digest, "files", len(p.Files))
	writeJSON(w, http.StatusCreated, api.CacheSave{Key: key, Saved: true, Digest: p.Digest, Size: p.Size})
	return nil
}
