package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store"
)

// MasterKeyFileName is the default key file in the data directory.
const MasterKeyFileName = "master.key"

// newKeySuffix names the key a rotation moves to while it runs; a server
// that finds it also loads it, so a rotation cut short after its
// transaction committed leaves every secret readable.
const newKeySuffix = ".new"

func keyFilePath(dataDir, file string) (path string, isDefault bool) {
	if file != "" {
		return file, false
	}
	return filepath.Join(dataDir, MasterKeyFileName), true
}

func lookupEnv(cfg func(string) (string, bool)) func(string) (string, bool) {
	if cfg != nil {
		return cfg
	}
	return os.LookupEnv
}

// loadMasterKey returns the primary key: BERTH_MASTER_KEY when set, else
// the key file (the default one is created when absent; a file named by
// the operator must exist). It says where the key came from.
func loadMasterKey(dataDir, file string, env func(string) (string, bool)) (secrets.Key, string, bool, error) {
	path, isDefault := keyFilePath(dataDir, file)
	if _, set := env(secrets.EnvMasterKey); set || !isDefault {
		k, from, err := secrets.LoadMasterKey(path, env)
		return k, from, false, err
	}
	k, created, err := secrets.EnsureKeyFile(path)
	return k, path, created, err
}

// loadKeyring loads the master key (and a rotation's new key, if one was
// cut short) and checks that the stored secrets open with them.
func loadKeyring(ctx context.Context, st store.Store, cfg Config, logger *slog.Logger) (*secrets.Keyring, error) {
	env := lookupEnv(cfg.LookupEnv)
	key, from, created, err := loadMasterKey(cfg.DataDir, cfg.MasterKeyFile, env)
	if err != nil {
		return nil, fmt.Errorf("server: master key: %w", err)
	}
	var older []secrets.Key
	path, _ := keyFilePath(cfg.DataDir, cfg.MasterKeyFile)
	if nk, _, err := secrets.LoadMasterKey(path+newKeySuffix, nil); err == nil {
		logger.Warn("a key rotation did not finish; loading its new key too; run berth server rotate-key again", "file", path+newKeySuffix)
		older = append(older, nk)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("server: %w", err)
	}
	ring, err := secrets.NewKeyring(key, older...)
	if err != nil {
		return nil, fmt.Errorf("server: master key: %w", err)
	}
	if created {
		logger.Warn("created a master key for secrets; back it up: without it no secret can be read again", "file", from)
	} else {
		logger.Info("master key loaded", "from", from, "key_id", key.ID())
	}
	return ring, checkKeyring(ctx, st, ring, logger)
}

// checkClusterCredentials opens every cluster's stored credentials, so a
// wrong or lost key is reported at start rather than when an environment
// on the cluster next opens. Like checkKeyring it logs and goes on: the
// local runtime and the other clusters still work.
func checkClusterCredentials(ctx context.Context, st store.Store, ss *secretstore.Store, logger *slog.Logger) error {
	cs, err := st.ListClusters(ctx)
	if err != nil {
		return fmt.Errorf("server: check cluster credentials: %w", err)
	}
	for _, c := range cs {
		if c.InCluster {
			continue
		}
		kc, err := ss.ClusterCredentials(ctx, c.Name)
		clear(kc)
		if err != nil {
			logger.Error("cluster credentials do not open with the loaded master key; start with the key they were sealed with, or add the cluster again",
				"cluster", c.Name, "err", err)
		}
	}
	return nil
}

// checkKeyring opens one secret per key ID, so a wrong or lost key is
// reported at start rather than when an app next starts an instance.
func checkKeyring(ctx context.Context, st store.Store, ring *secrets.Keyring, logger *slog.Logger) error {
	rows, err := st.ListSecrets(ctx, "")
	if err != nil {
		return fmt.Errorf("server: check secrets: %w", err)
	}
	tried := map[string]bool{}
	for _, r := range rows {
		if tried[r.KeyID] {
			continue
		}
		tried[r.KeyID] = true
		a, err := st.GetApp(ctx, r.App)
		if err != nil {
			return fmt.Errorf("server: check secrets: %w", err)
		}
		pt, err := ring.Open(secretstore.Binding(a.Team, r.App, r.Name), r.Envelope)
		clear(pt)
		if err != nil {
			logger.Error("stored secrets do not open with the loaded master key; start with the key they were sealed with (BERTH_MASTER_KEY or --master-key-file)",
				"key_id", r.KeyID, "loaded", ring.PrimaryID(), "err", err)
		}
	}
	return nil
}
