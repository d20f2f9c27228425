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
// log through a routefeed.Feed (shared with the snapshot API), so a
// change costs the apps it touched: the feed compiles only those, and the
// gateway loads only their routes (Gateway.LoadDelta). The first load,
// and any after the feed compiled everything again, is a whole snapshot.
type routeFeed struct {
	st   store.Store
	feed *routefeed.Feed
	gw   *gateway.Gateway
	log  *slog.Logger
	wake <-chan struct{} // pokes after every committed write
	tick time.Duration   // fallback, for writes made by another process
}

func (f *routeFeed) run(ctx context.Context) {
	var seen int64 = -1 // the revision of the gateway's table; -1: none loaded
	t := time.NewTicker(f.tick)
	defer t.Stop()
	for {
		rev, err := f.st.LastRevision(ctx)
		if err == nil && rev != seen {
			seen = f.load(ctx, seen)
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-t.C:
		}
	}
}

// load brings the gateway from revision seen to the feed's, and returns
// the revision it serves afterwards.
func (f *routeFeed) load(ctx context.Context, seen int64) int64 {
	u, err := f.feed.Since(ctx, "", seen)
	rev := u.Delta.Revision
	switch {
	case err != nil:
	case u.Full:
		rev = u.Snapshot.Revision
		err = f.gw.Load(u.Snapshot)
	default:
		err = f.gw.LoadDelta(u.Delta)
	}
	if err != nil {
		// The table keeps serving; the next poke or tick tries again
		// from the same revision.
		f.log.Error("gateway: routes not updated", "revision", rev, "err", err)
		return seen
	}
	return rev
}
