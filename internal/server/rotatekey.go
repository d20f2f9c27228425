package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/runtime/local"
	"github.com/berthdev/berth/internal/secretstore"
)

// ErrServerRunning means a server runs on the data directory: rotation is
// offline, because a running server holds only the old key.
var ErrServerRunning = errors.New("a berth server is running on this data dir")

// RotateConfig is what `berth server rotate-key` is run with.
type RotateConfig struct {
	DataDir       string
	MasterKeyFile string // "" means <DataDir>/master.key
	// NewKeyFile is the key to move to. "" generates one (key file mode
	// only): it is written beside the key file and replaces it at the end.
	NewKeyFile string
	// Database is the server's PostgreSQL URL; "" means <DataDir>/berth.db.
	Database  string
	LookupEnv func(string) (string, bool)
	Logger    *slog.Logger
	// stop, when set, is called after each step; an error ends the
	// rotation there as a crash would (tests cut it short with it).
	stop func(step string) error
}

// step reports a finished step of a rotation to cfg.stop.
func (cfg RotateConfig) step(name string) error {
	if cfg.stop == nil {
		return nil
	}
	return cfg.stop(name)
}

// RotateResult says what a rotation did.
type RotateResult struct {
	Rotated  int    // secrets re-encrypted
	OldKeyID string // the key they were sealed with
	NewKeyID string
	// KeyFile is the file now holding the new key ("" when the key came
	// from BERTH_MASTER_KEY: the operator sets it to the new key).
	KeyFile string
	// OldKeyFile keeps the previous key until the operator removes it.
	OldKeyFile string
}

// RotateKey re-encrypts every secret under a new master key, offline: it
// refuses while a server runs on the data directory, and holds the
// runtime's lock so none starts meanwhile. Every secret is re-sealed in one
// transaction; the key file is replaced only after it committed, and a
// server started in between loads both keys (see loadKeyring), so no
// secret is unreadable at any moment. Running it again after an
// interruption finishes the job.
func RotateKey(ctx context.Context, cfg RotateConfig) (RotateResult, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		return RotateResult{}, errors.New("rotate-key: data dir is required")
	}
	lock, err := local.LockDir(filepath.Join(cfg.DataDir, "runtime"))
	if errors.Is(err, local.ErrInUse) {
		return RotateResult{}, fmt.Errorf("rotate-key: %w (%s); stop it first: rotation is offline", ErrServerRunning, cfg.DataDir)
	}
	if err != nil {
		return RotateResult{}, fmt.Errorf("rotate-key: %w", err)
	}
	defer lock.Close()

	env := lookupEnv(cfg.LookupEnv)
	path, _ := keyFilePath(cfg.DataDir, cfg.MasterKeyFile)
	_, fromEnv := env(secrets.EnvMasterKey)
	old, _, err := secrets.LoadMasterKey(path, env)
	if err != nil {
		return RotateResult{}, fmt.Errorf("rotate-key: current master key: %w", err)
	}
	pending := path + newKeySuffix
	next, err := newKeyFor(cfg, pending, fromEnv)
	if err != nil {
		return RotateResult{}, err
	}
	if !fromEnv {
		// The new key's name must be on disk before a secret is sealed
		// with it: the file itself is synced, its directory entry not.
		if err := syncDir(filepath.Dir(pending)); err != nil {
			return RotateResult{}, err
		}
	}
	if err := cfg.step("new key written"); err != nil {
		return RotateResult{}, err
	}
	if next.ID() == old.ID() {
		return RotateResult{}, fmt.Errorf("rotate-key: the new key is the current key (%s)", old.ID())
	}
	ring, err := secrets.NewKeyring(old, next)
	if err != nil {
		return RotateResult{}, fmt.Errorf("rotate-key: %w", err)
	}
	db, err := openStore(ctx, cfg.DataDir, cfg.Database)
	if err != nil {
		return RotateResult{}, fmt.Errorf("rotate-key: open store: %w", err)
	}
	defer func() { _ = db.Close() }()
	n, err := secretstore.Rotate(ctx, db, ring, next)
	if err != nil {
		return RotateResult{}, fmt.Errorf("rotate-key: nothing was changed: %w", err)
	}
	res := RotateResult{Rotated: n, OldKeyID: old.ID(), NewKeyID: next.ID()}
	logger.Info("secrets re-encrypted", "count", n, "from", old.ID(), "to", next.ID())
	if err := cfg.step("re-encrypted"); err != nil {
		return res, err
	}
	if fromEnv {
		// The operator holds the new key and sets the variable to it.
		return res, nil
	}
	// The old key is copied aside and the new one renamed over the key
	// file, so that a key file exists at every moment: a server started
	// on a directory without one would make up a new key.
	res.KeyFile, res.OldKeyFile = path, path+".old"
	if err := keepKey(res.OldKeyFile, old); err != nil {
		return res, fmt.Errorf("rotate-key: secrets use the new key in %s, but keeping the old key failed: %w", pending, err)
	}
	if err := cfg.step("old key kept"); err != nil {
		return res, err
	}
	if err := os.Rename(pending, path); err != nil {
		return res, fmt.Errorf("rotate-key: secrets use the new key in %s, but moving it to %s failed: %w", pending, path, err)
	}
	return res, syncDir(filepath.Dir(path))
}

// newKeyFor is the key to rotate to: the operator's file, else one left by
// an interrupted rotation, else a fresh one. In key file mode it is first
// written (0600, synced) beside the key file, before anything is
// re-encrypted with it, so it cannot be lost.
func newKeyFor(cfg RotateConfig, pending string, fromEnv bool) (secrets.Key, error) {
	switch {
	case cfg.NewKeyFile != "":
		k, _, err := secrets.LoadMasterKey(cfg.NewKeyFile, nil)
		if err != nil {
			return secrets.Key{}, fmt.Errorf("rotate-key: --new-key-file: %w", err)
		}
		if fromEnv {
			return k, nil
		}
		if err := writeKeyFile(pending, k); err != nil {
			return secrets.Key{}, err
		}
		return k, nil
	case fromEnv:
		return secrets.Key{}, fmt.Errorf("rotate-key: the master key comes from %s: give the new key with --new-key-file, then set %s to it", secrets.EnvMasterKey, secrets.EnvMasterKey)
	}
	k, _, err := secrets.EnsureKeyFile(pending)
	if err != nil {
		return secrets.Key{}, fmt.Errorf("rotate-key: new key: %w", err)
	}
	return k, nil
}

// keepKey writes k to path (0600), replacing what is there, atomically.
func keepKey(path string, k secrets.Key) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // nothing left after the rename
	_, werr := f.WriteString(k.Encode() + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// writeKeyFile writes k to path (0600) unless path already holds k; a
// different key there is left alone: an interrupted rotation may have
// sealed secrets with it.
func writeKeyFile(path string, k secrets.Key) error {
	if have, _, err := secrets.LoadMasterKey(path, nil); err == nil {
		if have.ID() != k.ID() {
			return fmt.Errorf("rotate-key: %s holds another key (%s), left by an interrupted rotation; run rotate-key without --new-key-file to finish it", path, have.ID())
		}
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("rotate-key: %w", err)
	}
	_, werr := f.WriteString(k.Encode() + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return fmt.Errorf("rotate-key: write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("rotate-key: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("rotate-key: sync %s: %w", dir, err)
	}
	return nil
}
