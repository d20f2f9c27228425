package release_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

const specA = `{"name":"shop","services":{"web":{"command":["./web"]}}}`
const specB = `{"name":"shop","services":{"web":{"command":["./web","-v"]}}}`

func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func apply(t *testing.T, db *sqlite.DB, in release.Input) (release.Result, error) {
	t.Helper()
	var res release.Result
	err := db.InTx(t.Context(), func(tx store.Tx) error {
		var err error
		res, err = release.Apply(context.Background(), tx, in)
		return err
	})
	return res, err
}

// TestApply walks the one write path behind apply, rollback and the
// pipeline deploy step: what creates a release and what does not.
func TestApply(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	in := release.Input{Name: "shop", Team: "team_a", Env: "prod", Canonical: []byte(specA), Cause: "apply", Now: now}

	res, err := apply(t, db, in)
	if err != nil || !res.Created || res.Release != 1 || res.Revision == 0 {
		t.Fatalf("first apply = %+v, %v; want release 1 created", res, err)
	}
	a, err := db.GetApp(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if a.Team != "team_a" || a.Env != "prod" || a.TargetRelease != 1 || a.LatestRelease != 1 {
		t.Errorf("new app = team %q env %q target %d latest %d", a.Team, a.Env, a.TargetRelease, a.LatestRelease)
	}

	tests := []struct {
		desc        string
		in          release.Input
		before      func(t *testing.T)
		wantCreated bool
		wantRelease int
	}{
		{desc: "the same spec and source create nothing", in: in, wantRelease: 1},
		{desc: "another team or env does not move an existing app", in: release.Input{Name: "shop", Team: "team_b", Env: "dev", Canonical: []byte(specA), Now: now}, wantRelease: 1},
		{desc: "new source is a new release", in: release.Input{Name: "shop", Canonical: []byte(specA), Source: "sha256:ab", Now: now}, wantCreated: true, wantRelease: 2},
		{desc: "a new spec is a new release", in: release.Input{Name: "shop", Canonical: []byte(specB), Now: now}, wantCreated: true, wantRelease: 3},
		{
			desc: "the same spec with a new config version is a new release",
			in:   release.Input{Name: "shop", Canonical: []byte(specB), Now: now},
			before: func(t *testing.T) {
				err := db.CreateConfigVersion(ctx, store.ConfigVersion{App: "shop", Env: "prod", Version: 1,
					Entries: map[string]string{"LOG_LEVEL": "debug"}, CreatedAt: now})
				if err != nil {
					t.Fatal(err)
				}
			},
			wantCreated: true, wantRelease: 4,
		},
		{desc: "and applying it again creates nothing", in: release.Input{Name: "shop", Canonical: []byte(specB), Now: now}, wantRelease: 4},
	}
	for _, tc := range tests {
		if tc.before != nil {
			tc.before(t)
		}
		res, err := apply(t, db, tc.in)
		if err != nil || res.Created != tc.wantCreated || res.Release != tc.wantRelease {
			t.Errorf("%s: got %+v, %v; want created=%v release %d", tc.desc, res, err, tc.wantCreated, tc.wantRelease)
		}
	}
	a, err = db.GetApp(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if a.Team != "team_a" || a.Env != "prod" {
		t.Errorf("the app moved: team %q env %q", a.Team, a.Env)
	}
	rel, err := db.GetRelease(ctx, "shop", 4)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Config == nil || rel.Config.Env != "prod" || rel.Config.Version != 1 || rel.Cause != "apply" || rel.State != api.ReleasePending {
		t.Errorf("release 4 = config %+v cause %q state %q; want prod config version 1", rel.Config, rel.Cause, rel.State)
	}

	// Nothing is released into an app that is being deleted.
	a.Deleting = true
	if _, err := db.UpdateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := apply(t, db, release.Input{Name: "shop", Canonical: []byte(specA), Now: now}); !errors.Is(err, release.ErrAppDeleting) {
		t.Errorf("apply to a deleting app: %v, want ErrAppDeleting", err)
	}
	rels, err := db.ListReleases(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 4 {
		t.Errorf("%d releases, want 4", len(rels))
	}
}

func TestSpecHashCoversSpecAndSource(t *testing.T) {
	t.Parallel()
	base := release.SpecHash([]byte(specA), "")
	for desc, h := range map[string]string{
		"another spec":   release.SpecHash([]byte(specB), ""),
		"another source": release.SpecHash([]byte(specA), "sha256:ab"),
		// The separator keeps spec and source apart: moving bytes from
		// one to the other is another release.
		"bytes moved": release.SpecHash([]byte(specA[:len(specA)-1]), "}"),
	} {
		if h == base {
			t.Errorf("%s: same hash as the base", desc)
		}
	}
	if release.SpecHash([]byte(specA), "") != base {
		t.Error("the hash is not stable")
	}
}
