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
//
// AllTeams asks the database for the teams rather than taking their IDs:
// a platform with thousands of teams would otherwise send thousands of
// parameters with every page, and the IN list cost more than the page.
func (o ops) ListAppsPage(ctx context.Context, q store.AppQuery) ([]store.App, error) {
	if q.Limit < 1 {
		return nil, fmt.Errorf("app query limit: must be at least 1, got %d: %w", q.Limit, store.ErrInvalid)
	}
	const page = ` AND name > ? ORDER BY name LIMIT ?`
	if q.AllTeams {
		// EXISTS, not IN (SELECT ...): without statistics SQLite plans
		// an IN through the (team, name) index, one search per team and
		// a sort of every app; EXISTS keeps it on the name order, where
		// LIMIT stops the walk after one page.
		return o.queryApps(ctx, `SELECT `+appColumns+` FROM apps WHERE EXISTS (SELECT 1 FROM teams WHERE teams.id = apps.team)`+page, q.After, q.Limit)
	}
	if len(q.Teams) == 0 {
		return []store.App{}, nil // empty, not nil: encodes as []
	}
	args := make([]any, 0, len(q.Teams)+2)
	for _, t := range q.Teams {
		args = append(args, t)
	}
	args = append(args, q.After, q.Limit)
	return o.queryApps(ctx, `SELECT `+appColumns+` FROM apps WHERE team IN (`+marks(len(q.Teams))+`)`+page, args...)
}

func (db *Store) ListAppsPage(ctx context.Context, q store.AppQuery) ([]store.App, error) {
	return db.reader().ListAppsPage(ctx, q)
}

// marks is n comma-separated placeholders, for an IN list.
func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
