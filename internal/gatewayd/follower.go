package gatewayd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

// source is the control plane as the follower sees it; *client.Client.
type source interface {
	GatewaySnapshot(ctx context.Context) (api.GatewaySnapshot, error)
	Watch(ctx context.Context, since int64, fn func(api.Event) error) error
}

// loader is the gateway as the follower sees it; *gateway.Gateway.
type loader interface {
	Load(gateway.Snapshot) error
	Revision() int64
}

// follower keeps a gateway's table equal to the control plane's: it loads
// a snapshot, watches the change log from the snapshot's revision, and
// fetches a new snapshot shortly after events arrive (a burst of events
// costs one fetch). Whatever fails, the last table keeps serving: a fetch
// is retried with backoff, and a dropped watch resumes from the last
// revision it saw, so no change is missed.
type follower struct {
	src       source
	gw        loader
	server    string
	stateFile string // "" : no state file
	log       *slog.Logger
	m         *followerMetrics
	now       func() time.Time

	debounce     time.Duration
	retryMin     time.Duration
	retryMax     time.Duration
	fetchTimeout time.Duration
	dirty        chan struct{} // cap 1: a fetch is due

	mu            sync.Mutex
	since         int64              // where the watch resumes: the last event seen, or the table's revision
	restart       context.CancelFunc // ends the current watch, to resume it from since
	connected     bool
	everConnected bool
	loaded        bool // a table is served (from the control plane or the state file)
	fromServer    bool // a table came from the control plane

	// served is the table the gateway serves, by app (nil before the
	// first load), for loading only what changed. Used by sync, in the
	// fetch loop, and by loadSaved before that starts.
	served map[string][]gateway.Route
}

// markDirty asks for a fetch; it never blocks.
func (f *follower) markDirty() {
	select {
	case f.dirty <- struct{}{}:
	default:
	}
}

// ready reports whether a table is served.
func (f *follower) ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loaded
}

func (f *follower) position() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.since
}

// sync fetches the snapshot and loads it. A snapshot the gateway refuses
// is ErrRejected: the control plane sent it, so asking again will not
// help until the next change.
func (f *follower) sync(ctx context.Context) error {
	before := f.position()
	ctx, cancel := context.WithTimeout(ctx, f.fetchTimeout)
	defer cancel()
	s, err := f.src.GatewaySnapshot(ctx)
	if err != nil {
		f.m.loads.WithLabelValues(resultError).Inc()
		return err
	}
	snap := fromAPI(s)
	if err := f.load(snap); err != nil {
		f.m.loads.WithLabelValues(resultRejected).Inc()
		return fmt.Errorf("%w: revision %d: %w", ErrRejected, snap.Revision, err)
	}
	f.m.loads.WithLabelValues(resultOK).Inc()
	f.m.revision.Set(float64(snap.Revision))
	f.m.routes.Set(float64(len(snap.Routes)))
	f.m.lastLoad.Set(float64(f.now().Unix()))

	f.mu.Lock()
	first := !f.fromServer
	f.loaded, f.fromServer = true, true
	switch {
	case snap.Revision < before:
		// The revision is read after the fetch began, and a store's
		// revisions only grow: this control plane's store is not the one
		// the position came from (restored, or replaced). Watch it from
		// its own revision, or its next changes would be skipped.
		f.log.Warn("gateway: the control plane's revision went back; following it from there",
			"revision", snap.Revision, "was", before)
		f.since = snap.Revision
		if f.restart != nil {
			f.restart()
		}
	case snap.Revision > f.since:
		f.since = snap.Revision
	}
	f.mu.Unlock()
	level := slog.LevelDebug
	if first {
		level = slog.LevelInfo
	}
	f.log.Log(ctx, level, "gateway: table loaded from the control plane", "revision", snap.Revision, "routes", len(snap.Routes))
	if f.stateFile != "" {
		if err := saveState(f.stateFile, f.server, snap, f.now()); err != nil {
			f.log.Error("gateway: table not saved to the state file", "file", f.stateFile, "err", err)
		}
	}
	return nil
}

// loadSaved serves the table of the state file; used at start when the
// control plane cannot be reached.
func (f *follower) loadSaved() error {
	if f.stateFile == "" {
		return fmt.Errorf("%w: no state file configured", ErrNoState)
	}
	st, err := loadState(f.stateFile, f.server)
	if err != nil {
		return err
	}
	if err := f.load(st.Snapshot); err != nil {
		return fmt.Errorf("%w: state file %s: %w", ErrRejected, f.stateFile, err)
	}
	f.mu.Lock()
	f.since = st.Snapshot.Revision
	f.loaded = true
	f.mu.Unlock()
	f.m.revision.Set(float64(st.Snapshot.Revision))
	f.m.routes.Set(float64(len(st.Snapshot.Routes)))
	f.log.Warn("gateway: serving the table saved in the state file until the control plane answers",
		"file", f.stateFile, "revision", st.Snapshot.Revision, "routes", len(st.Snapshot.Routes),
		"saved_at", st.SavedAt.Format(time.RFC3339))
	return nil
}

// run follows the control plane until ctx ends.
func (f *follower) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); f.fetchLoop(ctx) }()
	go func() { defer wg.Done(); f.watchLoop(ctx) }()
	wg.Wait()
}

// fetchLoop fetches a snapshot whenever one is due: after events (waiting
// debounce first, so that a burst costs one fetch), and again with backoff
// until a fetch succeeds.
func (f *follower) fetchLoop(ctx context.Context) {
	wait := f.retryMin
	failing := false // the last fetch failed: say so once, not every retry
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.dirty:
		}
		if !sleep(ctx, f.debounce) {
			return
		}
		for {
			f.drain() // this fetch covers every event so far
			err := f.sync(ctx)
			if err == nil || errors.Is(err, ErrRejected) || ctx.Err() != nil {
				if err != nil && ctx.Err() == nil {
					f.log.Error("gateway: the control plane's table was refused; serving the last one",
						"revision", f.gw.Revision(), "err", err)
				}
				wait, failing = f.retryMin, false
				break
			}
			level := slog.LevelWarn
			if failing {
				level = slog.LevelDebug
			}
			failing = true
			f.log.Log(ctx, level, "gateway: table not fetched; serving the last one and retrying",
				"revision", f.gw.Revision(), "retry_in", wait, "err", err)
			if !sleep(ctx, wait) {
				return
			}
			wait = min(wait*2, f.retryMax)
		}
	}
}

func (f *follower) drain() {
	select {
	case <-f.dirty:
	default:
	}
}

// watchLoop follows the change log. client.Watch reconnects by itself
// once a stream has worked, resuming from the last event; it returns when
// the first connection fails, or the server answers an error (a revoked
// token), and then this loop starts it again from the last revision.
func (f *follower) watchLoop(ctx context.Context) {
	wait := f.retryMin
	for {
		wctx, cancel := context.WithCancel(ctx)
		f.mu.Lock()
		since := f.since
		f.restart = cancel
		f.mu.Unlock()
		err := f.src.Watch(wctx, since, func(e api.Event) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if err := wctx.Err(); err != nil {
				// Restarted (under mu): an event of the old stream must
				// not move the new position.
				return err
			}
			if e.Revision > f.since {
				f.since = e.Revision
			}
			f.markDirty()
			return nil
		})
		restarted := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case restarted:
			wait = f.retryMin
			continue
		}
		f.log.Debug("gateway: watch failed", "since", since, "retry_in", wait, "err", err)
		if !sleep(ctx, wait) {
			return
		}
		wait = min(wait*2, f.retryMax)
	}
}

// watchState is told by the client when the watch stream opens (nil) or
// drops; it logs each change of state once, not every retry.
func (f *follower) watchState(err error) {
	f.mu.Lock()
	was, first := f.connected, !f.everConnected
	f.connected = err == nil
	if err == nil {
		f.everConnected = true
	}
	rev := f.since
	f.mu.Unlock()
	switch {
	case err == nil:
		f.m.connected.Set(1)
		if !was {
			if first {
				f.log.Info("gateway: following the control plane", "server", f.server, "since", rev)
			} else {
				f.log.Info("gateway: control plane back; resuming", "server", f.server, "since", rev)
			}
		}
	case was:
		f.m.connected.Set(0)
		f.log.Warn("gateway: lost the control plane; serving the last table and reconnecting",
			"server", f.server, "revision", f.gw.Revision(), "err", err)
	default:
		f.m.connected.Set(0)
	}
}

// fatalAtStart reports whether err from the first fetch means the gateway
// cannot work at all (a rejected token, a server without the route) rather
// than a control plane that is down.
func fatalAtStart(err error) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// envSource follows one environment's route feed: the snapshot of its
// apps (the watch stream of its gateway token carries only their events).
type envSource struct {
	*client.Client
	env string
}

func (s envSource) GatewaySnapshot(ctx context.Context) (api.GatewaySnapshot, error) {
	return s.EnvGatewaySnapshot(ctx, s.env)
}
