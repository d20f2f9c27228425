package server

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// seedSecret stores app "shop" with one secret sealed with key.
func seedSecret(t *testing.T, dataDir string, key secrets.Key, value string) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ring, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := db.CreateApp(t.Context(), store.App{Name: "shop", Team: "team_a", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	env, keyID, err := secretstore.New(db, ring).Seal("team_a", "shop", "DB", []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSecret(t.Context(), store.Secret{Team: "team_a", App: "shop", Name: "DB", Envelope: env, KeyID: keyID, Version: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

// updateSecret seals value with key as the secret's next version; the
// earlier one stays kept for the releases made with it.
func updateSecret(t *testing.T, dataDir string, key secrets.Key, value string) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ring, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	row, err := db.GetSecret(t.Context(), "shop", "DB")
	if err != nil {
		t.Fatal(err)
	}
	if row.Envelope, row.KeyID, err = secretstore.New(db, ring).Seal("team_a", "shop", "DB", []byte(value)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateSecret(t.Context(), row); err != nil {
		t.Fatal(err)
	}
}

// readVersion opens version n of the secret with the keyring a server
// would load, as the reconciler does for a release that recorded it.
func readVersion(t *testing.T, dataDir string, cfg Config, n int64) (string, error) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg.DataDir = dataDir
	ring, err := loadKeyring(t.Context(), db, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	got, err := secretstore.New(db, ring).ResolveVersions(t.Context(), "team_a", "shop", []string{"DB"}, map[string]int64{"DB": n})
	return got["DB"], err
}

// readSecret opens the secret with the keyring a server would load.
func readSecret(t *testing.T, dataDir string, cfg Config) (string, error) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg.DataDir = dataDir
	ring, err := loadKeyring(t.Context(), db, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	got, err := secretstore.New(db, ring).Resolve(t.Context(), "team_a", "shop", []string{"DB"})
	return got["DB"], err
}

// seedCluster stores cluster "prod" with kubeconfig sealed with key.
func seedCluster(t *testing.T, dataDir string, key secrets.Key, kubeconfig string) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ring, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	c := store.Cluster{Name: "prod", Server: "https://prod.example", CreatedAt: time.Now().UTC()}
	if err := secretstore.New(db, ring).CreateCluster(t.Context(), c, []byte(kubeconfig)); err != nil {
		t.Fatal(err)
	}
}

// readCluster opens the credentials of cluster "prod" with the keyring a
// server would load, as openEnv does; it returns them and the stored row.
func readCluster(t *testing.T, dataDir string, cfg Config) (string, string, error) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg.DataDir = dataDir
	ring, err := loadKeyring(t.Context(), db, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", "", err
	}
	row, err := db.ClusterCredentials(t.Context(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	got, err := secretstore.New(db, ring).ClusterCredentials(t.Context(), "prod")
	return string(got), string(row), err
}

func writeKey(t *testing.T, path string, k secrets.Key) {
	t.Helper()
	if err := os.WriteFile(path, []byte(k.Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A rotation cut short after its transaction committed (the secrets are on
// the new key, the key file still holds the old one) leaves every secret
// readable, and running it again finishes it.
func TestRotationInterruptedAfterCommit(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	oldKey, _ := secrets.GenerateKey()
	newKey, _ := secrets.GenerateKey()
	keyFile := filepath.Join(dataDir, MasterKeyFileName)
	writeKey(t, keyFile, oldKey)
	seedSecret(t, dataDir, oldKey, "v1")
	// The rotation's first two steps: the new key beside the file, then
	// the transaction.
	writeKey(t, keyFile+newKeySuffix, newKey)
	db, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := secrets.NewKeyring(oldKey, newKey)
	if n, err := secretstore.Rotate(t.Context(), db, ring, newKey); err != nil || n != 1 {
		t.Fatalf("rotate: %d %v", n, err)
	}
	db.Close()

	if v, err := readSecret(t, dataDir, Config{LookupEnv: noEnv}); err != nil || v != "v1" {
		t.Fatalf("after the interruption: %q %v", v, err)
	}
	res, err := RotateKey(t.Context(), RotateConfig{DataDir: dataDir, LookupEnv: noEnv})
	if err != nil || res.NewKeyID != newKey.ID() || res.Rotated != 0 {
		t.Fatalf("rotate again: %+v %v; want the pending key, nothing left to re-encrypt", res, err)
	}
	if _, err := os.Stat(keyFile + newKeySuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind: %v", keyFile+newKeySuffix, err)
	}
	os.Remove(res.OldKeyFile)
	if v, err := readSecret(t, dataDir, Config{LookupEnv: noEnv}); err != nil || v != "v1" {
		t.Fatalf("with the new key alone: %q %v", v, err)
	}
}

func TestRotateKeyModes(t *testing.T) {
	t.Parallel()
	oldKey, _ := secrets.GenerateKey()
	newKey, _ := secrets.GenerateKey()
	envOf := func(k secrets.Key) func(string) (string, bool) {
		return func(name string) (string, bool) {
			if name == secrets.EnvMasterKey {
				return k.Encode(), true
			}
			return "", false
		}
	}
	tests := []struct {
		desc    string
		fromEnv bool
		newFile bool
		errHas  string
	}{
		{desc: "key file, generated new key"},
		{desc: "key file, given new key", newFile: true},
		{desc: "environment, given new key", fromEnv: true, newFile: true},
		{desc: "environment without a new key", fromEnv: true, errHas: "--new-key-file"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			dataDir := t.TempDir()
			cfg := RotateConfig{DataDir: dataDir, LookupEnv: noEnv}
			if tc.fromEnv {
				cfg.LookupEnv = envOf(oldKey)
			} else {
				writeKey(t, filepath.Join(dataDir, MasterKeyFileName), oldKey)
			}
			if tc.newFile {
				cfg.NewKeyFile = filepath.Join(t.TempDir(), "new.key")
				writeKey(t, cfg.NewKeyFile, newKey)
			}
			seedSecret(t, dataDir, oldKey, "first-"+tc.desc)
			updateSecret(t, dataDir, oldKey, "value-"+tc.desc)
			seedCluster(t, dataDir, oldKey, "kubeconfig-"+tc.desc)
			res, err := RotateKey(t.Context(), cfg)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one naming %s", err, tc.errHas)
				}
				if v, err := readSecret(t, dataDir, Config{LookupEnv: cfg.LookupEnv}); err != nil || v != "value-"+tc.desc {
					t.Errorf("a refused rotation changed something: %q %v", v, err)
				}
				if v, _, err := readCluster(t, dataDir, Config{LookupEnv: cfg.LookupEnv}); err != nil || v != "kubeconfig-"+tc.desc {
					t.Errorf("a refused rotation changed the cluster's credentials: %q %v", v, err)
				}
				return
			}
			// The secret and the cluster's credentials.
			if err != nil || res.Rotated != 2 {
				t.Fatalf("rotate: %+v %v", res, err)
			}
			if tc.newFile && res.NewKeyID != newKey.ID() {
				t.Errorf("rotated to %s, want the given key %s", res.NewKeyID, newKey.ID())
			}
			after := Config{LookupEnv: noEnv}
			if tc.fromEnv {
				after.LookupEnv = envOf(newKey)
				if res.KeyFile != "" {
					t.Errorf("environment mode wrote key file %s", res.KeyFile)
				}
			} else if err := os.Remove(res.OldKeyFile); err != nil {
				t.Fatal(err)
			}
			if v, err := readSecret(t, dataDir, after); err != nil || v != "value-"+tc.desc {
				t.Errorf("after rotation, with the new key only: %q %v", v, err)
			}
			v, row, err := readCluster(t, dataDir, after)
			if err != nil || v != "kubeconfig-"+tc.desc {
				t.Errorf("cluster credentials after rotation, with the new key only: %q %v", v, err)
			}
			if id, err := secrets.KeyID(row); err != nil || id != res.NewKeyID {
				t.Errorf("cluster credentials sealed with %q (%v), want the new key %s", id, err, res.NewKeyID)
			}
			// A release made with the first value still gets it.
			if v, err := readVersion(t, dataDir, after, 1); err != nil || v != "first-"+tc.desc {
				t.Errorf("version 1 after rotation, with the new key only: %q %v", v, err)
			}
		})
	}
}

func TestMasterKeyLoading(t *testing.T) {
	t.Parallel()
	t.Run("explicit file must exist", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		_, _, _, err := loadMasterKey(dir, filepath.Join(dir, "nope.key"), noEnv)
		if !errors.Is(err, secrets.ErrKey) {
			t.Errorf("err = %v, want ErrKey", err)
		}
	})
	t.Run("default file is created 0600, then reused", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		k1, _, created, err := loadMasterKey(dir, "", noEnv)
		if err != nil || !created {
			t.Fatalf("first load: created %v, %v", created, err)
		}
		fi, err := os.Stat(filepath.Join(dir, MasterKeyFileName))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v %v", fi, err)
		}
		k2, _, created, err := loadMasterKey(dir, "", noEnv)
		if err != nil || created || k1.ID() != k2.ID() {
			t.Errorf("second load: %s vs %s, created %v, %v", k2.ID(), k1.ID(), created, err)
		}
	})
	t.Run("the environment wins and creates no file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		k, _ := secrets.GenerateKey()
		got, from, _, err := loadMasterKey(dir, "", func(n string) (string, bool) { return k.Encode(), n == secrets.EnvMasterKey })
		if err != nil || got.ID() != k.ID() || from != secrets.EnvMasterKey {
			t.Errorf("got %s from %s, %v", got.ID(), from, err)
		}
		if _, err := os.Stat(filepath.Join(dir, MasterKeyFileName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a key file was created: %v", err)
		}
	})
}

// A rotation killed after any of its steps leaves a data directory whose
// server loads a key file (it never makes up a new key) and reads every
// secret, and rotate-key run again finishes the job.
func TestRotationKilledAfterEachStep(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"new key written", "re-encrypted", "old key kept"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			dataDir := t.TempDir()
			oldKey, _ := secrets.GenerateKey()
			keyFile := filepath.Join(dataDir, MasterKeyFileName)
			writeKey(t, keyFile, oldKey)
			seedSecret(t, dataDir, oldKey, "v1")
			killed := errors.New("killed")
			cfg := RotateConfig{DataDir: dataDir, LookupEnv: noEnv, stop: func(s string) error {
				if s == step {
					return killed
				}
				return nil
			}}
			if _, err := RotateKey(t.Context(), cfg); !errors.Is(err, killed) {
				t.Fatalf("rotation cut short after %q: %v", step, err)
			}
			if _, err := os.Stat(keyFile); err != nil {
				t.Errorf("after the cut the key file is gone (a server would create a new key): %v", err)
			}
			if v, err := readSecret(t, dataDir, Config{LookupEnv: noEnv}); err != nil || v != "v1" {
				t.Fatalf("a server started after the cut: %q %v", v, err)
			}
			cfg.stop = nil
			res, err := RotateKey(t.Context(), cfg)
			if err != nil {
				t.Fatalf("rotate again: %v", err)
			}
			if _, err := os.Stat(keyFile + newKeySuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left behind: %v", keyFile+newKeySuffix, err)
			}
			if got, _, err := secrets.LoadMasterKey(keyFile, nil); err != nil || got.ID() != res.NewKeyID {
				t.Errorf("key file holds %s (%v), want the new key %s", got.ID(), err, res.NewKeyID)
			}
			if err := os.Remove(res.OldKeyFile); err != nil {
				t.Fatal(err)
			}
			if v, err := readSecret(t, dataDir, Config{LookupEnv: noEnv}); err != nil || v != "v1" {
				t.Fatalf("with the new key alone: %q %v", v, err)
			}
		})
	}
}
