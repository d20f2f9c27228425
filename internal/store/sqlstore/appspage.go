package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/berthdev/berth/internal/store"
)

// ListAppsPage filters by team and pages in SQL, so a caller in one small
// team reads its own apps, not every app of the platform. Keyset paging
// (name > after) walks the primary key: each page costs the same however
// far in it is, and an app created or deleted meanwhile shifts nothing.
func (o ops) ListAppsPage(ctx context.Context, q store.AppQuery) ([]store.App, error) {
	if q.Limit < 1 {
		return nil, fmt.Errorf("app query limit: must be at least 1, got %d: %w", q.Limit, store.ErrInvalid)
	}
	if len(q.Teams) == 0 {
		return []store.App{}, nil // empty, not nil: encodes as []
	}
	args := make([]any, 0, len(q.Teams)+2)
	for _, t := range q.Teams {
		args = append(args, t)
	}
	args = append(args, q.After, q.Limit)
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(q.Teams)), ", ")
	return o.queryApps(ctx, `SELECT `+appColumns+` FROM apps WHERE team IN (`+marks+`) AND name > ? ORDER BY name LIMIT ?`, args...)
}

func (db *Store) ListAppsPage(ctx context.Context, q store.AppQuery) ([]store.App, error) {
	return db.reader().ListAppsPage(ctx, q)
}
