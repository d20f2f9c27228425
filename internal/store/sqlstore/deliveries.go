package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/store"
)

func (o ops) RecordDelivery(ctx context.Context, id string, at time.Time) (bool, error) {
	if id == "" {
		return false, fmt.Errorf("delivery id: must not be empty: %w", store.ErrInvalid)
	}
	// ON CONFLICT DO NOTHING is the atomic test-and-set: of two copies of
	// one delivery, exactly one inserts a row.
	res, err := o.q.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, received_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, FormatTime(at))
	if err != nil {
		return false, fmt.Errorf("store: record delivery: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: record delivery: %w", err)
	}
	return n == 0, nil
}

func (o ops) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	res, err := o.q.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE received_at < ?`, FormatTime(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune deliveries: %w", err)
	}
	return int(n), nil
}
