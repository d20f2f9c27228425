package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
)

// recheckEvery is how often a watch stream checks its credential again.
const recheckEvery = 5 * time.Second

// watchBatch is how many events one store read returns; a follower far
// behind catches up in batches without one huge read.
const watchBatch = 500

// watch streams stored events after a revision as Server-Sent Events, then
// follows new ones. Each event's SSE id is its revision, so a client that
// reconnects with Last-Event-ID (or ?since=) resumes with no gap and no
// repeat.
func (s *server) watch(w http.ResponseWriter, r *http.Request) error {
	since, err := watchStart(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	visible, err := s.eventFilter(ctx)
	if err != nil {
		return err
	}
	// Subscribe before the first read, so a change committed between the
	// read and the wait still wakes us.
	wake := s.Changes.Subscribe(ctx)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the stream outlives any server write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // ask proxies not to buffer the stream
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: 1000\n\n"); err != nil {
		return nil
	}
	_ = rc.Flush()

	poll := time.NewTicker(s.WatchPoll)
	defer poll.Stop()
	heartbeat := time.NewTicker(s.Heartbeat)
	defer heartbeat.Stop()
	var buf bytes.Buffer
	checked := s.Now()
	for {
		// A stream outlives the call that opened it: every few seconds the
		// credential is checked again (revoked, expired, user disabled)
		// and the team filter rebuilt from the memberships as they are now.
		if now := s.Now(); now.Sub(checked) >= recheckEvery {
			checked = now
			c, err := s.recheck(ctx)
			if err != nil {
				s.loggerFrom(ctx).Info("watch: credential no longer valid; closing the stream", "reason", err)
				return nil
			}
			if visible, err = s.eventFilter(withPrincipal(ctx, c.principal)); err != nil {
				return nil
			}
		}
		events, err := s.Store.ListEvents(ctx, since, watchBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.loggerFrom(ctx).Error("watch: list events", "since", since, "err", err)
			}
			return nil // the status is sent; the client reconnects and resumes
		}
		buf.Reset()
		for _, e := range events {
			since = e.Revision
			if !visible(e) {
				continue
			}
			data, err := json.Marshal(toAPIEvent(e))
			if err != nil {
				s.loggerFrom(ctx).Error("watch: encode event", "revision", e.Revision, "err", err)
				return nil
			}
			fmt.Fprintf(&buf, "id: %d\nevent: %s\ndata: %s\n\n", e.Revision, e.Kind, data)
		}
		if buf.Len() > 0 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return nil // the client left
			}
			_ = rc.Flush()
			heartbeat.Reset(s.Heartbeat)
		}
		if len(events) == watchBatch {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return nil
			}
			_ = rc.Flush()
		}
	}
}

// watchStart reads where to resume: the Last-Event-ID a reconnecting
// client sends, else ?since=, else 0 (every stored event).
func watchStart(r *http.Request) (int64, error) {
	field, v := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if v == "" {
		field, v = "since", r.URL.Query().Get("since")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, invalidField(field, "%q is not a revision (0, 1, 2, ...)", v)
	}
	return n, nil
}

// eventFilter says which events the caller may see: those of apps in the
// teams where it holds apps:read (watch rebuilds it every recheckEvery). An event of an app
// that is gone is shown if its team was seen earlier in the stream, and
// otherwise only to platform admins.
func (s *server) eventFilter(ctx context.Context) (func(store.Event) bool, error) {
	p, _ := principalFrom(ctx)
	if p.PlatformAdmin && p.Can("", rbac.AppsRead) {
		return func(store.Event) bool { return true }, nil // gateways follow every team
	}
	if p.GatewayEnv != "" {
		return s.envEventFilter(ctx, p.GatewayEnv), nil
	}
	mine, err := s.teamsWith(ctx, rbac.AppsRead)
	if err != nil {
		return nil, err
	}
	teamOf := map[string]string{}
	return func(e store.Event) bool {
		team, ok := teamOf[e.App]
		if !ok {
			a, err := s.Store.GetApp(ctx, e.App)
			if err != nil {
				return false
			}
			team = a.Team
			teamOf[e.App] = team
		}
		return mine[team]
	}, nil
}

// envEventFilter passes the events of the apps of one environment: what
// its gateway's route feed is made of. An app's environment never
// changes, so it is looked up once; an app that is gone (deleted) passes,
// so the gateway drops its routes.
func (s *server) envEventFilter(ctx context.Context, env string) func(store.Event) bool {
	envOf := map[string]string{}
	return func(e store.Event) bool {
		ae, ok := envOf[e.App]
		if !ok {
			a, err := s.Store.GetApp(ctx, e.App)
			if errors.Is(err, store.ErrNotFound) {
				return true
			}
			if err != nil {
				return false
			}
			ae = a.Env
			envOf[e.App] = ae
		}
		return ae == env
	}
}
