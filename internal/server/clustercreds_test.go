package server

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// A cluster whose credentials an earlier build stored in clear is sealed
// by the server at start, and then opens with the server's key.
func TestServerSealsPlaintextClusterCredentials(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	writeKey(t, filepath.Join(dataDir, MasterKeyFileName), key)
	db, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	const kubeconfig = "kubeconfig-in-clear"
	c := store.Cluster{Name: "prod", Server: "https://prod.example", CreatedAt: time.Now().UTC()}
	if err := db.CreateCluster(t.Context(), c, []byte(kubeconfig)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	var log syncBuffer
	s := startInProcess(t, dataDir, &log)
	s.stop()
	if !strings.Contains(log.String(), "sealed cluster credentials stored in clear") || !strings.Contains(log.String(), "count=1") {
		t.Errorf("the server did not log the sealing:\n%s", log.String())
	}
	if strings.Contains(log.String(), "do not open") {
		t.Errorf("the sealed credentials did not open at start:\n%s", log.String())
	}
	got, row, err := readCluster(t, dataDir, Config{LookupEnv: noEnv})
	if err != nil || got != kubeconfig {
		t.Fatalf("after start: %q, %v", got, err)
	}
	if id, err := secrets.KeyID(row); err != nil || id != key.ID() || strings.Contains(row, kubeconfig) {
		t.Errorf("stored row is not an envelope of the server's key: %q, %v", id, err)
	}
}

// Credentials sealed with a key the server did not load are reported at
// start, naming the cluster; the server runs all the same.
func TestServerReportsUnreadableClusterCredentials(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	serverKey, _ := secrets.GenerateKey()
	otherKey, _ := secrets.GenerateKey()
	writeKey(t, filepath.Join(dataDir, MasterKeyFileName), serverKey)
	seedCluster(t, dataDir, otherKey, "kubeconfig")

	var log syncBuffer
	s := startInProcess(t, dataDir, &log)
	s.stop()
	out := log.String()
	if !strings.Contains(out, "cluster credentials do not open") || !strings.Contains(out, "cluster=prod") || !strings.Contains(out, otherKey.ID()) {
		t.Errorf("no error naming cluster prod and key %s at start:\n%s", otherKey.ID(), out)
	}
}
