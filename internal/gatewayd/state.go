package gatewayd

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/gateway"
)

// savedState is the state file: the last table loaded from the control
// plane, so a gateway restarted while the control plane is down serves
// it instead of nothing. It holds API key digests, never keys, but is
// written 0600 all the same.
type savedState struct {
	// Server is the control plane the table came from; a state file of
	// another one is never served.
	Server   string           `json:"server"`
	SavedAt  time.Time        `json:"saved_at"`
	Snapshot gateway.Snapshot `json:"snapshot"`
}

// DefaultStateFile is where a gateway following server keeps its table:
// $XDG_CACHE_HOME/berth/gateway/<hash of the URL>.json (or the platform's
// cache dir). Gateways that follow the same server from one machine
// share it; each write replaces the file whole, so they never mix.
func DefaultStateFile(getenv func(string) string, server string) (string, error) {
	dir := getenv("XDG_CACHE_HOME")
	if dir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find a cache dir for the state file: %w; pass --state-file", err)
		}
		dir = d
	}
	sum := sha256.Sum256([]byte(normalizeServer(server)))
	return filepath.Join(dir, "berth", "gateway", hex.EncodeToString(sum[:8])+".json"), nil
}

func normalizeServer(s string) string { return strings.TrimRight(strings.TrimSpace(s), "/") }

// saveState writes the table to path atomically: a temporary file in the
// same folder, synced, renamed over the old one, so a crash leaves the old
// file or the new one, never half of one. Several gateways may write the
// same path: each has its own temporary file, and rename is atomic.
func saveState(path, server string, snap gateway.Snapshot, now time.Time) error {
	b, err := json.Marshal(savedState{Server: normalizeServer(server), SavedAt: now.UTC(), Snapshot: snap})
	if err != nil {
		return fmt.Errorf("state file: encode: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("state file: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("state file: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state file: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	done = true
	// The rename is durable once the folder is synced; without it a
	// power cut could bring back the old file (which is still whole).
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// loadState reads the table saved for server; ErrNoState when there is
// none, or it came from another server.
func loadState(path, server string) (savedState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return savedState{}, fmt.Errorf("%w: %s does not exist", ErrNoState, path)
	}
	if err != nil {
		return savedState{}, fmt.Errorf("state file: %w", err)
	}
	var s savedState
	if err := json.Unmarshal(b, &s); err != nil {
		return savedState{}, fmt.Errorf("state file %s: %w", path, err)
	}
	if want := normalizeServer(server); s.Server != want {
		return savedState{}, fmt.Errorf("%w: %s holds the table of %s, not of %s", ErrNoState, path, s.Server, want)
	}
	return s, nil
}
