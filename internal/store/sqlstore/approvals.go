package sqlstore

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/internal/store"
)

func (o ops) CreateApproval(ctx context.Context, a store.Approval) error {
	switch {
	case a.Run == "" || a.Step == "" || a.Who == "":
		return fmt.Errorf("approval: run, step and who must not be empty: %w", store.ErrInvalid)
	case a.Decision != store.DecisionApprove && a.Decision != store.DecisionReject:
		return fmt.Errorf("approval decision: want %q or %q, got %q: %w", store.DecisionApprove, store.DecisionReject, a.Decision, store.ErrInvalid)
	}
	_, err := o.q.ExecContext(ctx, `INSERT INTO approvals (run, step, who, decision, comment, time) VALUES (?, ?, ?, ?, ?, ?)`,
		a.Run, a.Step, a.Who, a.Decision, a.Comment, FormatTime(a.Time))
	if err != nil {
		return o.mapErr(err, "create", fmt.Sprintf("decision of %s on %s/%s", a.Who, a.Run, a.Step), fmt.Sprintf("run %q", a.Run))
	}
	return nil
}

func (o ops) ListApprovals(ctx context.Context, run string) ([]store.Approval, error) {
	rows, err := o.q.QueryContext(ctx, `SELECT run, step, who, decision, comment, time FROM approvals WHERE run = ? ORDER BY seq`, run)
	if err != nil {
		return nil, fmt.Errorf("store: list approvals: %w", err)
	}
	defer rows.Close()
	out := []store.Approval{}
	for rows.Next() {
		var (
			a  store.Approval
			at string
		)
		if err := rows.Scan(&a.Run, &a.Step, &a.Who, &a.Decision, &a.Comment, &at); err != nil {
			return nil, fmt.Errorf("store: list approvals: %w", err)
		}
		if a.Time, err = parseTime("approvals.time", at); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list approvals: %w", err)
	}
	return out, nil
}
