package api

import (
	"context"
	"maps"
	"net"
	"net/http"
	"time"

	"github.com/berthdev/berth/internal/identity/audit"
)

// The audit middleware wraps every mutating route (New does it from the
// route table, and a test checks every such route names its action), so a
// new route cannot skip it. Handlers only add what they know: the object's
// team (authorize does that) and the object.

const ctxAudit ctxKey = 102

// auditNote is what the handlers tell the middleware about one call.
type auditNote struct {
	action    string
	sourceIP  string
	requestID string
	path      string
	actor     string
	team      string
	object    string
	denied    bool
	details   map[string]string
	// written: the record went into the transaction of the change (see
	// inTx), so the middleware writes none.
	written bool
}

// record is the audit record of the call so far, with outcome and, when
// known, the HTTP status.
func (n *auditNote) record(now time.Time, outcome audit.Outcome, status int) audit.Record {
	object := n.object
	if object == "" {
		object = n.path
	}
	details := maps.Clone(n.details)
	if details == nil {
		details = map[string]string{}
	}
	if status != 0 {
		details["status"] = http.StatusText(status)
	}
	return audit.Record{Time: now.UTC(), Actor: n.actor, Team: n.team, Action: n.action, Object: object,
		SourceIP: n.sourceIP, RequestID: n.requestID, Outcome: outcome, Details: details}
}

func auditFrom(ctx context.Context) *auditNote {
	n, _ := ctx.Value(ctxAudit).(*auditNote)
	return n
}

func (n *auditNote) deny() {
	if n != nil {
		n.denied = true
	}
}

// setObject names the call's object, e.g. "app/shop".
func setAuditObject(ctx context.Context, object string) {
	if n := auditFrom(ctx); n != nil {
		n.object = object
	}
}

// setAuditDetail records an extra fact; audit.Append withholds the values
// of secret-looking names.
func setAuditDetail(ctx context.Context, k, v string) {
	if n := auditFrom(ctx); n != nil {
		if n.details == nil {
			n.details = map[string]string{}
		}
		n.details[k] = v
	}
}

// audited writes one audit record after the call, whatever its outcome.
func (s *server) audited(rt route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := r.RemoteAddr
		if h, _, err := net.SplitHostPort(ip); err == nil {
			ip = h
		}
		note := &auditNote{action: rt.action, actor: "anonymous", sourceIP: ip, requestID: requestID(r.Context()), path: r.URL.Path}
		ctx := context.WithValue(r.Context(), ctxAudit, note)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		if note.written {
			return
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		outcome := audit.OutcomeSuccess
		switch {
		case note.denied || rec.status == http.StatusUnauthorized || rec.status == http.StatusForbidden:
			outcome = audit.OutcomeDenied
		case rec.status >= 400:
			outcome = audit.OutcomeFailure
		}
		record := note.record(s.Now(), outcome, rec.status)
		// The caller may be gone; the record is still owed.
		if _, err := s.Store.AppendAudit(context.WithoutCancel(ctx), record); err != nil {
			s.loggerFrom(ctx).Error("audit record not written", "action", rt.action, "object", record.Object, "err", err)
		}
	})
}
