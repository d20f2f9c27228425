package api

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/source"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// txProbe is a blob store that, on every Open, checks whether a write
// transaction can start: one that cannot within a moment is waiting for
// the transaction whose work opened the archive.
type txProbe struct {
	blob.Store
	db       store.Store
	opened   atomic.Int32
	inTxOpen atomic.Int32
}

func (p *txProbe) Open(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	p.opened.Add(1)
	done := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		done <- p.db.InTx(wctx, func(store.Tx) error { return nil })
	}()
	select {
	case err := <-done:
		if err != nil {
			p.inTxOpen.Add(1)
		}
	case <-time.After(500 * time.Millisecond):
		p.inTxOpen.Add(1)
	}
	return p.Store.Open(ctx, digest)
}

const specPipeA = `name: shop
source: {git: https://git.example/shop.git}
services:
  web: {command: [./web]}
pipeline:
  on: [manual]
  steps:
    - {name: test, run: go test ./...}
`

// specPipeB changes only specPipeA's pipeline.
var specPipeB = strings.Replace(specPipeA, "go test", "go vet", 1)

// uploadPacked packs files as berth apply does and uploads the archive.
func uploadPacked(t *testing.T, ts *testServer, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	digest, err := source.Pack(dir, &b)
	if err != nil {
		t.Fatal(err)
	}
	ts.mustCall(t, 204, "PUT", "/api/v1/blobs/"+digest, b.Bytes(), nil)
	return digest
}

// A rollback over a change only pipeline runs read compares the two
// source archives before its write transaction, as an apply does: reading
// them (up to source.MaxCompareBytes each) must not hold SQLite's one
// write lock. The rollback still keeps the running instances.
func TestRollbackComparesArchivesOutsideTheTransaction(t *testing.T) {
	t.Parallel()
	var probe *txProbe
	ts := newTestServer(t, func(d *Deps) {
		probe = &txProbe{Store: d.Blobs, db: d.Store}
		d.Blobs = probe
	})
	srcA := uploadPacked(t, ts, map[string]string{"berth.yaml": specPipeA, "main.go": "package main\n"})
	srcB := uploadPacked(t, ts, map[string]string{"berth.yaml": specPipeB, "main.go": "package main\n"})
	var r1, r2 api.ApplyResponse
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specPipeA, Source: srcA}, &r1)
	markState(t, ts, 1, api.ReleaseDeployed)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specPipeB, Source: srcB}, &r2)
	if r2.Release != 2 || r2.KeepsInstancesOf != 1 {
		t.Fatalf("apply of a pipeline-only change: %+v; want release 2 keeping release 1", r2)
	}
	markState(t, ts, 2, api.ReleaseDeployed)
	opened, inTx := probe.opened.Load(), probe.inTxOpen.Load()
	if opened == 0 || inTx != 0 {
		t.Fatalf("the apply opened %d archives, %d of them inside a write transaction; want some, none inside", opened, inTx)
	}

	var rb api.ApplyResponse
	ts.mustCall(t, 200, "POST", "/api/v1/apps/shop/rollback", api.RollbackRequest{To: 1}, &rb)
	if rb.Release != 3 || rb.KeepsInstancesOf != 1 {
		t.Fatalf("rollback: %+v; want release 3 keeping release 1", rb)
	}
	if n := probe.opened.Load() - opened; n == 0 {
		t.Fatal("the rollback compared no archives")
	}
	if n := probe.inTxOpen.Load(); n != 0 {
		t.Errorf("the rollback opened %d archives inside its write transaction; want none", n)
	}
}
