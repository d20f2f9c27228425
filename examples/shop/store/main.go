// Command store is the shop's storage service: a tiny key/value store that
// keeps its data in the volume Berth gives it (BERTH_VOLUME_DATA), so the
// data outlives instances and releases.
package main

import (
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

type kv struct {
	mu   sync.Mutex
	file string
	data map[string]string
}

func (s *kv) load() error {
	b, err := os.ReadFile(s.file)
	if errors.Is(err, os.ErrNotExist) {
		s.data = map[string]string{}
		return nil
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, &s.data)
}

// save writes the whole map to a temp file and renames it over the old one,
// so a crash never leaves a half-written file.
func (s *kv) save() error {
	b, err := json.Marshal(s.data)
	if err != nil {
		return err
	}
	tmp := s.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.file)
}

func main() {
	dir := os.Getenv("BERTH_VOLUME_DATA")
	if dir == "" {
		dir = "."
	}
	s := &kv{file: filepath.Join(dir, "kv.json")}
	if err := s.load(); err != nil {
		log.Fatalf("store: load %s: %v", s.file, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		v, ok := s.data[r.PathValue("key")]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, v)
	})
	mux.HandleFunc("PUT /kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.data[r.PathValue("key")] = string(b)
		if err := s.save(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	addr := "127.0.0.1:" + os.Getenv("PORT")
	log.Printf("store listening on %s, data in %s", addr, s.file)
	log.Fatal(http.ListenAndServe(addr, mux))
}
