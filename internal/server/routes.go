package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/routefeed"
	"github.com/berthdev/berth/internal/store"
)

// routeFeed keeps the embedded gateway's table equal to what
// routefeed.Compile builds from the store. It follows the store's change
// log, so it recompiles only when something changed; standalone gateways
// follow the same log over the watch API and fetch the same snapshot.
type routeFeed struct {
	st   store.Store
	gw   *gateway.Gateway
	log  *slog.Logger
	wake <-chan struct{} // pokes after every committed write
	tick time.Duration   // fallback, for writes made by another process
}

func (f *routeFeed) run(ctx context.Context) {
	var seen int64 = -1
	t := time.NewTicker(f.tick)
	defer t.Stop()
	for {
		rev, err := f.st.LastRevision(ctx)
		if err == nil && rev != seen {
			snap, err := routefeed.Compile(ctx, f.st)
			if err == nil {
				err = f.gw.Load(snap)
			}
			if err != nil {
				f.log.Error("gateway: routes not updated", "revision", rev, "err", err)
			} else {
				seen = snap.Revision
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-t.C:
		}
	}
}
