package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/berthdev/berth/internal/identity/audit"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// auditPage bounds one read of the log.
const auditPage = 1000

func toAPIAudit(r audit.Record) api.AuditRecord {
	return api.AuditRecord{Seq: r.Seq, Time: r.Time, Actor: r.Actor, Team: r.Team, Action: r.Action, Object: r.Object,
		SourceIP: r.SourceIP, RequestID: r.RequestID, Outcome: string(r.Outcome), Details: r.Details,
		Redacted: r.Redacted, PrevHash: r.PrevHash, Hash: r.Hash}
}

// listAudit returns the records of the teams where the caller reads the
// audit log (?team= narrows to one; platform-wide records are for
// platform admins), ?since= (RFC 3339 or a duration such as 24h), ?after=
// (a seq) and ?limit=.
func (s *server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	query := store.AuditQuery{Limit: auditPage}
	if v := q.Get("since"); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			query.Since = t
		} else if d, err := time.ParseDuration(v); err == nil && d > 0 {
			query.Since = s.Now().Add(-d)
		} else {
			return invalidField("since", "%q is neither an RFC 3339 time nor a duration such as 24h", v)
		}
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return invalidField("after", "%q is not a sequence number", v)
		}
		query.AfterSeq = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > auditPage {
			return invalidField("limit", "%q is not a number from 1 to %d", v, auditPage)
		}
		query.Limit = n
	}
	visible, err := s.teamsWith(r.Context(), rbac.AuditRead)
	if err != nil {
		return err
	}
	p, _ := principalFrom(r.Context())
	admin := p.PlatformAdmin && p.Can("", rbac.AuditRead)
	if v := q.Get("team"); v != "" {
		t, err := s.loadTeam(r.Context(), v, rbac.AuditRead)
		if err != nil {
			return err
		}
		query.Team, visible, admin = t.ID, map[string]bool{t.ID: true}, false
	}
	out := []api.AuditRecord{}
	// Filtering after the read can leave a page short; keep reading until
	// it is full or the log ends.
	for len(out) < query.Limit {
		recs, err := s.Store.ListAudit(r.Context(), query)
		if err != nil {
			return fmt.Errorf("list audit: %w", err)
		}
		for _, rec := range recs {
			if (visible[rec.Team] || (admin && rec.Team == "")) && len(out) < query.Limit {
				out = append(out, toAPIAudit(rec))
			}
			query.AfterSeq = rec.Seq
		}
		if len(recs) < query.Limit {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// verifyAudit checks the whole chain (platform admins: the chain spans
// every team) and answers where it breaks.
func (s *server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	if err := s.platformAdmin(r.Context(), rbac.AuditRead, forbidden("only platform admins verify the audit chain: it spans every team")); err != nil {
		return err
	}
	var (
		anchor *audit.Record
		resp   = api.AuditVerifyResponse{OK: true}
		after  int64
	)
	for {
		page, err := s.Store.ListAudit(r.Context(), store.AuditQuery{AfterSeq: after, Limit: auditPage})
		if err != nil {
			return fmt.Errorf("list audit: %w", err)
		}
		if err := audit.VerifyFrom(anchor, page); err != nil {
			var be *audit.BreakError
			if !errors.As(err, &be) {
				return fmt.Errorf("verify audit: %w", err)
			}
			resp.OK, resp.BrokenSeq, resp.Reason = false, be.Seq, be.Reason
			break
		}
		resp.Records += len(page)
		if len(page) == 0 {
			break
		}
		anchor = &page[len(page)-1]
		resp.HeadSeq, resp.Head = anchor.Seq, anchor.Hash
		after = anchor.Seq
		if len(page) < auditPage {
			break
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
