package deploy

import (
	"errors"
	"slices"
	"testing"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

func TestDeleting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2), "db": svc(1)}))
	e.settle("shop")
	e.apply(appSpec("blog", map[string]*spec.Service{"web": svc(1)}))
	e.settle("blog")
	e.rt.slowDelete = true

	a := e.app("shop")
	a.Deleting = true
	if _, err := e.st.UpdateApp(e.ctx, a); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, "stop all", e.pass("shop"), "delete shop-db-r1", "delete shop-web-r1")
	if st := e.app("shop").Status; st.Phase != api.PhaseDeleting {
		t.Fatalf("status %+v", st)
	}
	if !slices.Contains(e.px.removed, "shop") || len(e.px.endpoints("blog", "web")) != 1 {
		t.Fatalf("proxy: removed %v", e.px.removed)
	}
	// Still stopping: the record stays.
	e.pass("shop")
	e.app("shop")

	e.rt.finishDeletes()
	wantCalls(t, "gone", e.pass("shop"))
	if _, err := e.st.GetApp(e.ctx, "shop"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("app still there: %v", err)
	}
	if rels, _ := e.st.ListReleases(e.ctx, "shop"); len(rels) != 0 {
		t.Fatalf("releases left: %d", len(rels))
	}
	if evs := e.events(api.EventAppDeleted); len(evs) != 1 || evs[0].App != "shop" {
		t.Fatalf("deleted events %+v", evs)
	}
	// Gone for good: further passes do nothing, the other app is untouched.
	before := e.st.writes.Load()
	wantCalls(t, "after", e.pass("shop"))
	if e.st.writes.Load() != before {
		t.Fatal("store written for a deleted app")
	}
	if e.rt.replicas("blog-web-r1") != 1 {
		t.Fatal("other app touched")
	}
}

func TestOrphanWorkloadsRemoved(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	e.settle("shop")
	// The record disappears (a crash between stopping and deleting, or a
	// reset store): its workloads go too.
	if err := e.st.DeleteApp(e.ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, "orphans", e.pass("shop"), "delete shop-web-r1")
	wantCalls(t, "nothing left", e.pass("shop"))
}
