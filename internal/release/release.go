// Package release creates releases: the one write path behind POST
// /api/v1/apply, rollbacks and the pipeline deploy step, so a release made
// by a pipeline is exactly what an apply of the same spec and source makes.
package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// ErrAppDeleting is returned when the app is being deleted: nothing may be
// released into it until it is gone.
var ErrAppDeleting = errors.New("release: app is being deleted")

// Input is what to release.
type Input struct {
	// Name is the app's name (from the spec).
	Name string
	// Canonical is the validated spec as canonical JSON.
	Canonical []byte
	// Source is the digest of the stored source archive, "" if none.
	Source string
	// Cause says what made the release: apply, pipeline.
	Cause string
	// Code compares the new source archive with the target's when the
	// specs differ only in what pipeline runs read (KeepsInstancesOf);
	// nil: only the same digest counts as the same code.
	Code CodeComparer
	// Team and Env are set on an app this call creates; an existing app
	// keeps its own.
	Team string
	Env  string
	Now  time.Time
}

// Result says what Apply did.
type Result struct {
	App     string
	Release int
	// Created is false when the target release already had this spec and
	// source: applying the same thing twice creates nothing.
	Created bool
	// KeepsInstancesOf is the release whose running instances the new
	// release keeps (KeepsInstancesOf); 0 when it rolls out.
	KeepsInstancesOf int
	Revision         int64
}

// AppliedData is the Data of an app.applied event.
type AppliedData struct {
	Cause      string `json:"cause"`
	SpecHash   string `json:"spec_hash"`
	Source     string `json:"source,omitempty"`
	RollbackOf int    `json:"rollback_of,omitempty"`
}

// SpecHash identifies a release's content: the canonical spec and the
// source archive together, so the same spec with new code is a new release.
func SpecHash(canonical []byte, source string) string {
	h := sha256.New()
	h.Write(canonical)
	h.Write([]byte("\n"))
	h.Write([]byte(source))
	return hex.EncodeToString(h.Sum(nil))
}

// Apply creates the app if new, creates release N+1 (unless spec and
// source equal the target release's) and points the app's target at it,
// and appends an event, all in tx. The caller commits and then wakes the
// reconciler.
func Apply(ctx context.Context, tx store.Tx, in Input) (Result, error) {
	now := in.Now.UTC()
	hash := SpecHash(in.Canonical, in.Source)
	res := Result{App: in.Name}
	a, err := tx.GetApp(ctx, in.Name)
	isNew := errors.Is(err, store.ErrNotFound)
	switch {
	case isNew:
		a = store.App{Name: in.Name, Team: in.Team, Env: in.Env, CreatedAt: now, Status: api.AppStatus{Phase: api.PhasePending}}
	case err != nil:
		return res, fmt.Errorf("get app %s: %w", in.Name, err)
	case a.Deleting:
		return res, ErrAppDeleting
	}
	sp, err := decodeSpec(in.Name, a.LatestRelease+1, in.Canonical)
	if err != nil {
		return res, err
	}
	snap, err := ConfigSnapshot(ctx, tx, a, sp)
	if err != nil {
		return res, err
	}
	var artifacts map[string]api.Artifact
	if a.TargetRelease > 0 {
		target, err := tx.GetRelease(ctx, in.Name, a.TargetRelease)
		if err != nil {
			return res, fmt.Errorf("get release %s/%d: %w", in.Name, a.TargetRelease, err)
		}
		// The same spec and source with other configuration is a new
		// release too: its instances must see the new values.
		if target.SpecHash == hash && SameConfig(target.Config, snap) {
			res.Release = target.Number
			res.Revision, err = tx.LastRevision(ctx)
			return res, err
		}
		// A change only pipeline runs read keeps the running instances
		// (pipelineonly.go), and with them the builds they run.
		keep, err := KeepsInstancesOf(ctx, in.Code, a, target, in.Canonical, in.Source, snap)
		if err != nil {
			return res, err
		}
		if keep != 0 {
			snap.ReloadOf, snap.PipelineOnly = keep, true
			artifacts = maps.Clone(target.Artifacts)
		}
	}
	cause := in.Cause
	if cause == "" {
		cause = "apply"
	}
	rel := store.Release{
		App: in.Name, Number: a.LatestRelease + 1, Spec: json.RawMessage(in.Canonical),
		SpecHash: hash, Source: in.Source, Artifacts: artifacts, Cause: cause, Config: snap,
		State: api.ReleasePending, CreatedAt: now, UpdatedAt: now,
	}
	rev, err := Create(ctx, tx, a, isNew, rel, AppliedData{Cause: rel.Cause, SpecHash: hash, Source: in.Source})
	if err != nil {
		return res, err
	}
	res.Release, res.Created, res.Revision = rel.Number, true, rev
	if snap.PipelineOnly {
		res.KeepsInstancesOf = snap.ReloadOf
	}
	return res, nil
}

// Create stores rel as the app's new target and records the event, whose
// revision it returns. A new app is created in the same step, so no app
// ever exists without a release.
func Create(ctx context.Context, tx store.Tx, a store.App, isNew bool, rel store.Release, data AppliedData) (int64, error) {
	now := rel.CreatedAt
	a.LatestRelease, a.TargetRelease, a.UpdatedAt = rel.Number, rel.Number, now
	if isNew {
		// The app goes first: the release refers to it.
		if err := tx.CreateApp(ctx, a); err != nil {
			return 0, fmt.Errorf("create app %s: %w", a.Name, err)
		}
	}
	if err := tx.CreateRelease(ctx, rel); err != nil {
		return 0, fmt.Errorf("create release %s/%d: %w", rel.App, rel.Number, err)
	}
	if !isNew {
		if _, err := tx.UpdateApp(ctx, a); err != nil {
			return 0, fmt.Errorf("update app %s: %w", a.Name, err)
		}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	ev := store.Event{Kind: api.EventAppApplied, App: a.Name, Release: rel.Number, Time: now, Data: raw}
	rev, err := tx.AppendEvent(ctx, ev)
	if err != nil {
		return 0, fmt.Errorf("append event: %w", err)
	}
	return rev, nil
}
