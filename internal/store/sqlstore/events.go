package sqlstore

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/internal/store"
)

func (o ops) AppendEvent(ctx context.Context, e store.Event) (int64, error) {
	if e.Kind == "" {
		return 0, fmt.Errorf("event kind: must not be empty: %w", store.ErrInvalid)
	}
	data, err := rawJSON("event data", e.Data)
	if err != nil {
		return 0, err
	}
	// e.Revision is ignored: the store numbers events in commit order,
	// the backend's way (Dialect.AppendEvent).
	var rev int64
	err = o.q.QueryRowContext(ctx, o.d.AppendEvent, e.Kind, e.App, e.Release, FormatTime(e.Time), data).Scan(&rev)
	if err != nil {
		return 0, fmt.Errorf("store: append event %s: %w", e.Kind, err)
	}
	return rev, nil
}

func (o ops) ListEvents(ctx context.Context, since int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		limit = noLimit
	}
	rows, err := o.q.QueryContext(ctx, `SELECT revision, kind, app, release, time, data FROM events
WHERE revision > ? ORDER BY revision LIMIT ?`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	defer rows.Close()
	events := []store.Event{}
	for rows.Next() {
		var (
			e    store.Event
			t    string
			data *string
		)
		if err := rows.Scan(&e.Revision, &e.Kind, &e.App, &e.Release, &t, &data); err != nil {
			return nil, fmt.Errorf("store: list events: %w", err)
		}
		if e.Time, err = parseTime("events.time", t); err != nil {
			return nil, err
		}
		e.Data = fromRawJSON(data)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	return events, nil
}

func (o ops) LastRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := o.q.QueryRowContext(ctx, `SELECT COALESCE(MAX(revision), 0) FROM events`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("store: last revision: %w", err)
	}
	return rev, nil
}
