package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/berthdev/berth/internal/identity/audit"
	"github.com/berthdev/berth/internal/store"
)

const auditColumns = `seq, time, actor, team, action, object, source_ip, request_id, outcome, details, redacted, prev_hash, hash`

// AppendAudit reads the chain's head and writes the next record in the
// caller's transaction; on *DB it is its own write transaction. Writes go
// through the one writer connection, and seq is the primary key, so two
// appends can never both follow the same record.
func (o ops) AppendAudit(ctx context.Context, r audit.Record) (audit.Record, error) {
	var prev *audit.Record
	heads, err := queryAll(ctx, o, "audit", scanAudit, `SELECT `+auditColumns+` FROM audit ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return audit.Record{}, err
	}
	if len(heads) == 1 {
		prev = &heads[0]
	}
	rec, err := audit.Append(prev, r)
	if err != nil {
		return audit.Record{}, fmt.Errorf("audit record: %w: %w", store.ErrInvalid, err)
	}
	details, err := marshal("audit details", rec.Details)
	if err != nil {
		return audit.Record{}, err
	}
	redacted, err := marshal("audit redacted", rec.Redacted)
	if err != nil {
		return audit.Record{}, err
	}
	_, err = o.q.ExecContext(ctx, `INSERT INTO audit (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.Seq, FormatTime(rec.Time), rec.Actor, rec.Team, rec.Action, rec.Object, rec.SourceIP, rec.RequestID,
		string(rec.Outcome), details, redacted, rec.PrevHash, rec.Hash)
	if err != nil {
		return audit.Record{}, o.mapErr(err, "append", fmt.Sprintf("audit record %d", rec.Seq), "")
	}
	return rec, nil
}

func (o ops) ListAudit(ctx context.Context, q store.AuditQuery) ([]audit.Record, error) {
	var where []string
	var args []any
	if q.Team != "" {
		where, args = append(where, "team = ?"), append(args, q.Team)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, FormatTime(q.Since))
	}
	where, args = append(where, "seq > ?"), append(args, q.AfterSeq)
	query := `SELECT ` + auditColumns + ` FROM audit WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	return queryAll(ctx, o, "audit", scanAudit, query, args...)
}

func scanAudit(s scanner) (audit.Record, error) {
	var (
		r                              audit.Record
		tm, outcome, details, redacted string
	)
	if err := s.Scan(&r.Seq, &tm, &r.Actor, &r.Team, &r.Action, &r.Object, &r.SourceIP, &r.RequestID, &outcome,
		&details, &redacted, &r.PrevHash, &r.Hash); err != nil {
		return r, err
	}
	r.Outcome = audit.Outcome(outcome)
	var err error
	if r.Time, err = parseTime("audit.time", tm); err != nil {
		return r, err
	}
	if err := unmarshal("audit.details", details, &r.Details); err != nil {
		return r, err
	}
	if err := unmarshal("audit.redacted", redacted, &r.Redacted); err != nil {
		return r, err
	}
	return r, nil
}
