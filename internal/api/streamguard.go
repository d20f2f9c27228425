package api

import (
	"context"
	"sync"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
)

// A followed log stream outlives the call that opened it, and so the
// credential that call was checked with. guardStream checks the caller
// again (recheck: the token revoked or expired, the session ended, the
// user disabled) and that it may still use perm in team, each time an
// access change is announced on s.revocations and every recheckEvery;
// when it may not, it calls cut, which ends the stream.

// guardStream watches the caller of ctx for as long as the stream lasts:
// stop ends the watch and waits for it. cut is called at most once.
func (s *server) guardStream(ctx context.Context, team string, perm rbac.Permission, cut func()) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	wake := s.revocations.Subscribe(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(recheckEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
			case <-tick.C:
			}
			if why := s.streamDenied(ctx, team, perm); why != "" {
				s.loggerFrom(ctx).Info("stream: caller may no longer read it; closing", "reason", why)
				cut()
				return
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// streamDenied says why the caller of ctx may no longer use perm in team
// ("" when it still may). Like a watch stream, it takes any error of the
// check (a session gone from the store, or the store failing) as the end:
// a client that may still read reconnects.
func (s *server) streamDenied(ctx context.Context, team string, perm rbac.Permission) string {
	c, err := s.recheck(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ""
		}
		return err.Error()
	}
	if err := rbac.Authorize(c.principal, team, perm); err != nil {
		return err.Error()
	}
	return ""
}
