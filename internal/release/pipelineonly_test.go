package release_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/source"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

const (
	specPipe1 = `{"name":"shop","source":{"git":"https://git.example/shop.git"},"services":{"web":{"command":["./web"]}},"pipeline":{"steps":[{"name":"test","run":"go test ./..."}]}}`
	specPipe2 = `{"name":"shop","source":{"git":"https://git.example/shop.git"},"services":{"web":{"command":["./web"]}},"pipeline":{"steps":[{"name":"test","run":"go vet ./..."}]}}`
	// specPipe3 changes the source section only (runs read it, instances do not).
	specPipe3 = `{"name":"shop","source":{"git":"https://git.example/shop.git","branch":"dev"},"services":{"web":{"command":["./web"]}},"pipeline":{"steps":[{"name":"test","run":"go vet ./..."}]}}`
	// specPipe4 changes the pipeline and a service.
	specPipe4 = `{"name":"shop","source":{"git":"https://git.example/shop.git"},"services":{"web":{"command":["./web","-v"]}},"pipeline":{"steps":[{"name":"test","run":"go test ./..."}]}}`
)

// packed stores an archive of files in blobs and returns its digest.
func packed(t *testing.T, blobs *blob.Dir, files map[string]string) string {
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
	if err := blobs.Put(t.Context(), digest, &b, source.MaxArchiveSize); err != nil {
		t.Fatal(err)
	}
	return digest
}

// markDeployed marks release 1 of shop deployed, with arts if not nil,
// as the reconciler does once it ran.
func markDeployed(t *testing.T, db *sqlite.DB, arts map[string]api.Artifact) {
	t.Helper()
	ctx := t.Context()
	if err := db.InTx(ctx, func(tx store.Tx) error {
		rel, err := tx.GetRelease(ctx, "shop", 1)
		if err != nil {
			return err
		}
		rel.State = api.ReleaseDeployed
		if arts != nil {
			rel.Artifacts = arts
		}
		_, err = tx.UpdateRelease(ctx, rel)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// KeepsInstancesOf keeps the running instances only for a change of what
// pipeline runs read, of a fully rolled out target with no canary, the
// same code (the archive's berth.yaml apart) and the same configuration.
func TestKeepsInstancesOf(t *testing.T) {
	t.Parallel()
	blobs, err := blob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	oldSource := packed(t, blobs, map[string]string{"berth.yaml": "pipeline: one", "main.go": "package main"})
	sameCode := packed(t, blobs, map[string]string{"berth.yaml": "pipeline: two", "main.go": "package main"})
	otherCode := packed(t, blobs, map[string]string{"berth.yaml": "pipeline: two", "main.go": "package main // v2"})
	cfg := func(v, reloadOf int) *api.ReleaseConfig {
		return &api.ReleaseConfig{Env: api.DefaultConfigEnv, Version: v, ReloadOf: reloadOf}
	}
	tests := []struct {
		desc   string
		state  string
		canary *store.Canary
		old    *api.ReleaseConfig
		spec   string
		source string
		snap   *api.ReleaseConfig
		want   int
	}{
		{desc: "pipeline section only", spec: specPipe2, want: 7},
		{desc: "source section only", spec: specPipe3, want: 7},
		{desc: "removing the pipeline section", spec: `{"name":"shop","source":{"git":"https://git.example/shop.git"},"services":{"web":{"command":["./web"]}}}`, want: 7},
		{desc: "after a live reload: the instances' release", old: cfg(2, 4), spec: specPipe2, snap: cfg(2, 0), want: 4},
		{desc: "a service changed too", spec: specPipe4},
		{desc: "another archive of the same code", spec: specPipe2, source: sameCode, want: 7},
		{desc: "another archive of other code", spec: specPipe2, source: otherCode},
		{desc: "an archive that is not stored", spec: specPipe2, source: "sha256:" + strings.Repeat("0", 64)},
		{desc: "another config version", spec: specPipe2, snap: cfg(1, 0)},
		{desc: "the target still rolling out", state: api.ReleaseProgressing, spec: specPipe2},
		{desc: "the target failed", state: api.ReleaseFailed, spec: specPipe2},
		{desc: "a canary running", canary: &store.Canary{Release: 7}, spec: specPipe2},
		{desc: "a spec that does not decode", spec: `{"name":`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			state := tt.state
			if state == "" {
				state = api.ReleaseDeployed
			}
			target := store.Release{App: "shop", Number: 7, State: state, Spec: []byte(specPipe1), Source: oldSource, Config: tt.old}
			src := tt.source
			if src == "" {
				src = oldSource
			}
			got, err := release.KeepsInstancesOf(t.Context(), release.BlobCode{Blobs: blobs}, store.App{Name: "shop", Canary: tt.canary}, target, []byte(tt.spec), src, tt.snap)
			if err != nil || got != tt.want {
				t.Errorf("KeepsInstancesOf = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// Apply of a pipeline-only change records a release that keeps the
// deployed target's instances (and artifacts); applying it again creates
// nothing; a change of a service as well rolls out as before.
func TestApplyPipelineOnly(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	in := release.Input{Name: "shop", Team: "team_a", Canonical: []byte(specPipe1), Source: "sha256:old", Now: now}
	if res, err := apply(t, db, in); err != nil || res.Release != 1 {
		t.Fatalf("first apply: %+v %v", res, err)
	}
	arts := map[string]api.Artifact{"web": {BuildKey: "k1", Dir: "/builds/k1"}}
	markDeployed(t, db, arts)

	in.Canonical = []byte(specPipe2)
	res, err := apply(t, db, in)
	if err != nil || !res.Created || res.Release != 2 {
		t.Fatalf("pipeline-only apply: %+v %v; want release 2", res, err)
	}
	rel, err := db.GetRelease(ctx, "shop", 2)
	if err != nil {
		t.Fatal(err)
	}
	if c := rel.Config; c == nil || c.ReloadOf != 1 || !c.PipelineOnly || rel.Artifacts["web"] != arts["web"] || rel.State != api.ReleasePending {
		t.Fatalf("release 2: config %+v, artifacts %v, state %s; want it to keep release 1's instances and artifacts", rel.Config, rel.Artifacts, rel.State)
	}
	if res, err := apply(t, db, in); err != nil || res.Created || res.Release != 2 {
		t.Fatalf("the same apply again: %+v %v; want nothing created", res, err)
	}

	// Release 2 is not deployed yet: the next change rolls.
	in.Canonical = []byte(specPipe3)
	if res, err := apply(t, db, in); err != nil || res.Release != 3 {
		t.Fatalf("apply over a pending target: %+v %v", res, err)
	}
	if rel, err := db.GetRelease(ctx, "shop", 3); err != nil || rel.Config == nil || rel.Config.ReloadOf != 0 || rel.Config.PipelineOnly || rel.Artifacts != nil {
		t.Fatalf("release 3: %+v %v; want a rollout", rel, err)
	}
}

// A service change together with the pipeline rolls out.
func TestApplyPipelineAndService(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	in := release.Input{Name: "shop", Team: "team_a", Canonical: []byte(specPipe1), Now: now}
	if _, err := apply(t, db, in); err != nil {
		t.Fatal(err)
	}
	markDeployed(t, db, nil)
	in.Canonical = []byte(specPipe4)
	if res, err := apply(t, db, in); err != nil || res.Release != 2 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	if rel, err := db.GetRelease(ctx, "shop", 2); err != nil || rel.Config == nil || rel.Config.ReloadOf != 0 || rel.Config.PipelineOnly {
		t.Fatalf("release 2: %+v %v; want a rollout", rel.Config, err)
	}
}

// Precompared compares the archives before the transaction: what it
// answers needs the archives no more (they are removed here), and a pair
// it did not compare goes to the comparer it wraps.
func TestPrecompared(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	ctx := t.Context()
	blobs, err := blob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	oldSource := packed(t, blobs, map[string]string{"berth.yaml": "pipeline: one", "main.go": "package main"})
	newSource := packed(t, blobs, map[string]string{"berth.yaml": "pipeline: two", "main.go": "package main"})
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := apply(t, db, release.Input{Name: "shop", Team: "team_a", Canonical: []byte(specPipe1), Source: oldSource, Now: now}); err != nil {
		t.Fatal(err)
	}
	markDeployed(t, db, nil)

	code := release.Precompared(ctx, db, release.BlobCode{Blobs: blobs}, "shop", []byte(specPipe2), newSource)
	for _, d := range []string{oldSource, newSource} {
		if err := blobs.Remove(d); err != nil {
			t.Fatal(err)
		}
	}
	if same, err := code.SameCode(ctx, oldSource, newSource); err != nil || !same {
		t.Fatalf("the precompared pair: %v, %v; want the same code", same, err)
	}
	if same, err := code.SameCode(ctx, newSource, oldSource); err == nil || same {
		t.Fatalf("another pair: %v, %v; want the archives read (and found missing)", same, err)
	}
	res, err := apply(t, db, release.Input{Name: "shop", Canonical: []byte(specPipe2), Source: newSource, Code: code, Now: now})
	if err != nil || res.Release != 2 || res.KeepsInstancesOf != 1 {
		t.Fatalf("apply with the precompared answer: %+v %v; want release 2 keeping release 1", res, err)
	}
}

// countingCode fails every comparison, counting them.
type countingCode struct{ calls *atomic.Int32 }

func (c countingCode) SameCode(context.Context, string, string) (bool, error) {
	c.calls.Add(1)
	return false, fmt.Errorf("compare: %w", source.ErrCompareTooLarge)
}

// A comparison that failed before the transaction (an archive too large
// to compare) is not made again inside it: the apply rolls out after one
// read of the archives, not two.
func TestPrecomparedRemembersAFailure(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := apply(t, db, release.Input{Name: "shop", Team: "team_a", Canonical: []byte(specPipe1), Source: "sha256:old", Now: now}); err != nil {
		t.Fatal(err)
	}
	markDeployed(t, db, nil)
	calls := new(atomic.Int32)
	code := release.Precompared(ctx, db, countingCode{calls}, "shop", []byte(specPipe2), "sha256:new")
	if n := calls.Load(); n != 1 {
		t.Fatalf("Precompared compared %d times; want once", n)
	}
	res, err := apply(t, db, release.Input{Name: "shop", Canonical: []byte(specPipe2), Source: "sha256:new", Code: code, Now: now})
	if err != nil || res.Release != 2 || res.KeepsInstancesOf != 0 {
		t.Fatalf("apply: %+v %v; want release 2 rolling out", res, err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the archives were compared %d times; want once (before the transaction)", n)
	}
}
