package api

import (
	"context"
	"net"
	"net/http"

	"github.com/berthdev/berth/internal/identity/audit"
)

// The audit middleware wraps every mutating route (New does it from the
// route table, and a test checks every such route names its action), so a
// new route cannot skip it. Handlers only add what they know: the object's
// team (authorize does that) and the object.

const ctxAudit ctxKey = 102

// auditNote is what the handlers tell the middleware about one call.
type auditNote struct {
	actor   string
	team    string
	object  string
	denied  bool
	details map[string]string
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
		note := &auditNote{actor: "anonymous"}
		ctx := context.WithValue(r.Context(), ctxAudit, note)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
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
		object := note.object
		if object == "" {
			object = r.URL.Path
		}
		ip := r.RemoteAddr
		if h, _, err := net.SplitHostPort(ip); err == nil {
			ip = h
		}
		record := audit.Record{
			Time: s.Now().UTC(), Actor: note.actor, Team: note.team, Action: rt.action, Object: object,
			SourceIP: ip, RequestID: requestID(ctx), Outcome: outcome, Details: note.details,
		}
		if record.Details == nil {
			record.Details = map[string]string{}
		}
		record.Details["status"] = http.StatusText(rec.status)
		// The caller may be gone; the record is still owed.
		if _, err := s.Store.AppendAudit(context.WithoutCancel(ctx), record); err != nil {
			s.loggerFrom(ctx).Error("audit record not written", "action", rt.action, "object", object, "err", err)
		}
	})
}
