package routefeed

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/store"
)

// ChangeReader is what a Feed reads: what Compile reads, the change log,
// and one app at a time. store.Store satisfies it.
type ChangeReader interface {
	Reader
	ListEvents(ctx context.Context, since int64, limit int) ([]store.Event, error)
	GetApp(ctx context.Context, name string) (store.App, error)
}

const (
	// maxEvents bounds how much of the change log an update reads: past
	// it, compiling every app is the cheaper way.
	maxEvents = 20000
	// maxTombstones bounds the deleted apps a Feed remembers for its
	// consumers; past it they are forgotten, and consumers behind get a
	// whole snapshot.
	maxTombstones = 4096
)

// Feed keeps the compiled routes of every app, one part per app, and
// brings them up to date from the change log: every write that changes
// what an app's routes compile to (its record, its releases, its status)
// appends an event naming the app in the same transaction, so after the
// first compile only the apps named by events since the last update are
// compiled again, and deleted ones dropped. The result is what Compile
// and CompileEnv return (TestFeedMatchesCompile holds them together).
//
// It serves both kinds of consumer: whole snapshots per environment
// (cached until one of that environment's apps changes), and, for the
// embedded gateway, the apps changed since the revision a consumer last
// saw. A Feed is safe for concurrent use; the snapshots and deltas it
// returns share their routes with it and must not be modified.
type Feed struct {
	st ChangeReader

	mu    sync.Mutex
	ready bool  // the parts have been compiled once
	rev   int64 // the revision the parts reflect
	// base is the revision of the last full compile (or of forgetting
	// tombstones): a consumer that saw an earlier one cannot be told what
	// changed since, and gets a whole snapshot.
	base   int64
	parts  map[string]*part // by app name, deleted apps included
	names  []string         // the keys of parts, sorted (snapshots list apps by name)
	tombs  int              // parts of deleted apps
	snaps  map[string]gateway.Snapshot
	envRev map[string]int64 // the revision an app of the environment last changed at
}

// part is one app's compiled routes.
type part struct {
	env    string
	routes []gateway.Route
	rev    int64 // the revision it was compiled at
	gone   bool  // the app was deleted: kept so consumers learn of it
	// moved: the app was seen in another environment before (an app's
	// environment does not change, but a name can be reused): every
	// consumer is told about its changes, so the old one drops it.
	moved bool
}

// NewFeed returns a feed over st; the first use compiles every app.
func NewFeed(st ChangeReader) *Feed {
	return &Feed{st: st}
}

// Update is what changed for one environment since the revision a
// consumer last saw: a whole snapshot (Full) or a delta.
type Update struct {
	Full     bool
	Snapshot gateway.Snapshot // when Full
	Delta    gateway.Delta    // otherwise; Apps may be empty
}

// Snapshot brings the feed up to date and returns the snapshot of the
// apps of environment env ("" for those of no environment), as
// CompileEnv would.
func (f *Feed) Snapshot(ctx context.Context, env string) (gateway.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.update(ctx); err != nil {
		return gateway.Snapshot{}, err
	}
	return f.snapshot(env), nil
}

// Since brings the feed up to date and returns what changed for env after
// revision since: the routes of each app that changed (none for one that
// went or left env), or the whole snapshot when the feed cannot tell
// (since is before its last full compile, or after its revision, or
// negative).
func (f *Feed) Since(ctx context.Context, env string, since int64) (Update, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.update(ctx); err != nil {
		return Update{}, err
	}
	if since < f.base || since > f.rev || since < 0 {
		return Update{Full: true, Snapshot: f.snapshot(env)}, nil
	}
	d := gateway.Delta{Revision: f.rev, Apps: map[string][]gateway.Route{}}
	for name, p := range f.parts {
		if p.rev <= since || p.env != env && !p.moved {
			continue
		}
		if p.gone || p.env != env {
			d.Apps[name] = nil
		} else {
			d.Apps[name] = p.routes
		}
	}
	return Update{Delta: d}, nil
}

// snapshot assembles env's snapshot from the parts, or returns the one
// built since the last change to env's apps.
func (f *Feed) snapshot(env string) gateway.Snapshot {
	if s, ok := f.snaps[env]; ok && s.Revision >= f.envRev[env] {
		s.Revision = f.rev
		f.snaps[env] = s
		return s
	}
	n := 0
	for _, p := range f.parts {
		if !p.gone && p.env == env {
			n += len(p.routes)
		}
	}
	s := gateway.Snapshot{Revision: f.rev, Routes: make([]gateway.Route, 0, n)}
	for _, name := range f.names {
		if p := f.parts[name]; !p.gone && p.env == env {
			s.Routes = append(s.Routes, p.routes...)
		}
	}
	f.snaps[env] = s
	return s
}

// update compiles the apps named by the events after f.rev, or every app
// on first use, when the log cannot say (pruned past f.rev, an event that
// names no app) or when it says too much. On error nothing changes.
func (f *Feed) update(ctx context.Context) error {
	// The revision is read first, as Compile does: every change up to it
	// is in the events read after, and a change after it is compiled
	// again by the next update.
	rev, err := f.st.LastRevision(ctx)
	if err != nil {
		return fmt.Errorf("routefeed: last revision: %w", err)
	}
	if !f.ready || rev < f.rev {
		return f.compileAll(ctx, rev)
	}
	if rev == f.rev {
		return nil
	}
	evs, err := f.st.ListEvents(ctx, f.rev, maxEvents+1)
	if err != nil {
		return fmt.Errorf("routefeed: list events: %w", err)
	}
	// Revisions are handed out without gaps; a missing one means the log
	// was pruned past f.rev.
	if len(evs) > maxEvents || len(evs) == 0 || evs[0].Revision != f.rev+1 {
		return f.compileAll(ctx, rev)
	}
	changed := map[string]bool{}
	for _, e := range evs {
		if e.App == "" {
			// Not about one app: it may concern any of them.
			return f.compileAll(ctx, rev)
		}
		changed[e.App] = true
	}
	next := make(map[string]*part, len(changed))
	for _, name := range slices.Sorted(maps.Keys(changed)) {
		a, err := f.st.GetApp(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			next[name] = &part{gone: true}
			continue
		}
		if err != nil {
			return fmt.Errorf("routefeed: app %s: %w", name, err)
		}
		routes, err := appRoutes(ctx, f.st, a)
		if err != nil {
			return fmt.Errorf("routefeed: %w", err)
		}
		next[name] = &part{env: a.Env, routes: routes}
	}
	for name, p := range next {
		f.set(name, p, rev)
	}
	f.rev = rev
	if f.tombs > maxTombstones {
		for name, p := range f.parts {
			if p.gone {
				delete(f.parts, name)
			}
		}
		f.names = slices.Sorted(maps.Keys(f.parts))
		f.tombs, f.base = 0, rev
	}
	return nil
}

// set replaces the part of app name, compiled at rev.
func (f *Feed) set(name string, p *part, rev int64) {
	p.rev = rev
	old, ok := f.parts[name]
	switch {
	case !ok:
		i, _ := slices.BinarySearch(f.names, name)
		f.names = slices.Insert(f.names, i, name)
	case old.gone:
		f.tombs--
	}
	if ok {
		if p.gone {
			p.env = old.env
		}
		p.moved = old.moved || old.env != p.env
		f.envRev[old.env] = rev
	}
	if p.gone {
		f.tombs++
	}
	f.envRev[p.env] = rev
	f.parts[name] = p
}

// compileAll compiles every app afresh, at revision rev.
func (f *Feed) compileAll(ctx context.Context, rev int64) error {
	apps, err := f.st.ListApps(ctx)
	if err != nil {
		return fmt.Errorf("routefeed: list apps: %w", err)
	}
	parts := make(map[string]*part, len(apps))
	names := make([]string, 0, len(apps))
	for _, a := range apps {
		routes, err := appRoutes(ctx, f.st, a)
		if err != nil {
			return fmt.Errorf("routefeed: %w", err)
		}
		parts[a.Name] = &part{env: a.Env, routes: routes, rev: rev}
		names = append(names, a.Name)
	}
	slices.Sort(names)
	f.parts, f.names, f.tombs = parts, names, 0
	f.snaps, f.envRev = map[string]gateway.Snapshot{}, map[string]int64{}
	f.ready, f.rev, f.base = true, rev, rev
	return nil
}
