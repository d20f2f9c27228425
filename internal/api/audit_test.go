package api

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/identity/audit"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// TestAuditEveryMutatingRoute calls every audited route of the table once
// (whatever the outcome) and finds its record by request ID: a new
// mutating route is covered without editing this test.
func TestAuditEveryMutatingRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	team := ts.createTeam(t, "shop")
	ts.applyIn(t, "shop", specV1)
	u := ts.addUser(t, "dev@example.com", map[string]rbac.Role{team.ID: rbac.RoleDeveloper})
	_, tok := ts.teamToken(t, team.ID, rbac.RoleDeveloper, rbac.ScopeRead)
	fixtures := map[string]string{"app": "shop", "release": "1", "team": team.ID, "user": u.ID, "token": tok.ID,
		"digest": "sha256:" + strings.Repeat("0", 64), "name": "DB_PASSWORD", "run": "shop.1", "forge": "github", "cluster": "c1", "env": "prod", "step": "build"}
	const canary = "canary-pw-Zq8vX1-never-logged"
	bodies := map[string]any{
		"POST /api/v1/users":              api.CreateUserRequest{Email: "new@example.com", Password: canary},
		"POST /api/v1/auth/login":         api.LoginRequest{Email: "dev@example.com", Password: canary},
		"POST /api/v1/teams":              api.CreateTeamRequest{Name: "blog"},
		"POST /api/v1/apply":              api.ApplyRequest{Spec: specV2},
		"POST /api/v1/validate":           api.ApplyRequest{Spec: specV2},
		"POST /api/v1/tokens":             api.CreateTokenRequest{Name: "x", Scope: "read"},
		"POST /api/v1/apps/{app}/rollout": map[string]int{"weight": 5},
	}
	param := regexp.MustCompile(`\{([a-z]+)\}`)
	want := map[string]string{} // request ID -> action
	audited := 0
	for i, rt := range (&server{}).routes() {
		if rt.action == "" {
			continue
		}
		audited++
		key := rt.method + " " + rt.path
		path := param.ReplaceAllStringFunc(rt.path, func(m string) string {
			v, ok := fixtures[m[1:len(m)-1]]
			if !ok {
				t.Errorf("%s: path parameter %s has no fixture", key, m)
			}
			return v
		})
		body := bodies[key]
		if body == nil && rt.method != http.MethodGet && rt.method != http.MethodDelete {
			body = map[string]any{}
		}
		id := fmt.Sprintf("audit-test-%d", i)
		resp := ts.do(t, rt.method, path, body, map[string]string{"Authorization": "Bearer " + ts.token, RequestIDHeader: id})
		readAll(t, resp)
		resp.Body.Close()
		want[id] = rt.action
	}
	if audited < 10 {
		t.Fatalf("only %d audited routes", audited)
	}
	var recs []api.AuditRecord
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/audit", nil, &recs)
	got := map[string]api.AuditRecord{}
	for _, r := range recs {
		got[r.RequestID] = r
		if strings.Contains(fmt.Sprint(r), canary) {
			t.Errorf("audit record holds the password: %+v", r)
		}
	}
	for id, action := range want {
		r, ok := got[id]
		switch {
		case !ok:
			t.Errorf("no audit record for %s (request %s)", action, id)
		case r.Action != action || r.SourceIP != "127.0.0.1" || r.Actor == "" || r.Outcome == "" || r.Hash == "":
			t.Errorf("record for %s: %+v", action, r)
		}
	}
	// Failures and denials are recorded too.
	outcomes := map[string]bool{}
	for _, r := range recs {
		outcomes[r.Outcome] = true
	}
	if !outcomes["success"] || !outcomes["failure"] || !outcomes["denied"] {
		t.Errorf("outcomes seen: %v, want success, failure and denied", outcomes)
	}

	var v api.AuditVerifyResponse
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/audit/verify", nil, &v)
	if !v.OK || v.Records < audited || v.Head == "" {
		t.Fatalf("verify before tampering: %+v", v)
	}

	// The table refuses changes; someone who drops the guard and edits a
	// record is caught by the chain check.
	raw, err := sql.Open("sqlite", filepath.Join(ts.dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit SET outcome = 'success' WHERE seq = 3`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("update of an audit record: %v, want refused", err)
	}
	if _, err := raw.Exec(`DELETE FROM audit WHERE seq = 3`); err == nil {
		t.Fatal("delete of an audit record was allowed")
	}
	if _, err := raw.Exec(`DROP TRIGGER audit_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE audit SET actor = 'someone-else' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/audit/verify", nil, &v)
	if v.OK || v.BrokenSeq != 3 || !strings.Contains(v.Reason, "modified") {
		t.Fatalf("verify after tampering: %+v", v)
	}
	// Verifying is for platform admins: the chain spans every team.
	dev, _ := ts.personalToken(t, u.ID, rbac.ScopeAdmin)
	if status, _ := ts.callAs(t, dev, http.MethodGet, "/api/v1/audit/verify", nil); status != http.StatusForbidden {
		t.Errorf("developer verifies: %d", status)
	}
}

// TestAuditVisibility: members see their teams' records only, and only
// with audit:read.
func TestAuditVisibility(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	a, b := ts.createTeam(t, "team-a"), ts.createTeam(t, "team-b")
	ts.applyIn(t, "team-a", specV1)
	adminB := ts.addUser(t, "admin@b.example", map[string]rbac.Role{b.ID: rbac.RoleAdmin})
	devA := ts.addUser(t, "dev@a.example", map[string]rbac.Role{a.ID: rbac.RoleDeveloper})
	tokB, _ := ts.personalToken(t, adminB.ID, rbac.ScopeAdmin)
	tokA, _ := ts.personalToken(t, devA.ID, rbac.ScopeAdmin)
	var recs []api.AuditRecord
	ts.mustAs(t, tokB, http.StatusOK, http.MethodGet, "/api/v1/audit", nil, &recs)
	for _, r := range recs {
		if r.Team != b.ID {
			t.Errorf("admin of B sees %+v", r)
		}
	}
	if status, _ := ts.callAs(t, tokA, http.MethodGet, "/api/v1/audit?team=team-a", nil); status != http.StatusForbidden {
		t.Errorf("developer reads the audit log: %d", status)
	}
	var all []api.AuditRecord
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/audit?team=team-a", nil, &all)
	applied := false
	for _, r := range all {
		applied = applied || (r.Action == "app.apply" && r.Object == "app/shop" && r.Team == a.ID)
	}
	if !applied {
		t.Errorf("team A's records lack the apply: %+v", all)
	}
}

// failingAuditTx is a store whose transactions cannot append audit records.
type failingAuditStore struct{ store.Store }

type failingAuditTx struct{ store.Tx }

func (failingAuditTx) AppendAudit(context.Context, audit.Record) (audit.Record, error) {
	return audit.Record{}, errors.New("disk full")
}

func (s failingAuditStore) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.Store.InTx(ctx, func(tx store.Tx) error { return fn(failingAuditTx{tx}) })
}

// TestAuditInTheChangesTransaction: a change whose record cannot be
// written is not made.
func TestAuditInTheChangesTransaction(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(d *Deps) { d.Store = failingAuditStore{d.Store} })
	ctx := t.Context()
	tests := []struct {
		desc, method, path, action string
		body                       any
		made                       func() bool
	}{
		{desc: "apply", method: http.MethodPost, path: "/api/v1/apply", action: "app.apply", body: api.ApplyRequest{Spec: specV1},
			made: func() bool { _, err := ts.db.GetApp(ctx, "shop"); return err == nil }},
		{desc: "team", method: http.MethodPost, path: "/api/v1/teams", action: "team.create", body: api.CreateTeamRequest{Name: "blog"},
			made: func() bool { _, err := ts.db.GetTeamByName(ctx, "blog"); return err == nil }},
		{desc: "user", method: http.MethodPost, path: "/api/v1/users", action: "user.create", body: api.CreateUserRequest{Email: "x@example.com"},
			made: func() bool { _, err := ts.db.GetUserByEmail(ctx, "x@example.com"); return err == nil }},
		{desc: "invitation", method: http.MethodPost, path: "/api/v1/teams/default/invitations", action: "invitation.create", body: api.CreateInvitationRequest{Role: "viewer"},
			made: func() bool {
				d, _ := ts.db.GetTeamByName(ctx, "default")
				invs, _ := ts.db.ListInvitations(ctx, d.ID)
				return len(invs) > 0
			}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			status, b := ts.call(t, tc.method, tc.path, tc.body)
			if status != http.StatusInternalServerError {
				t.Fatalf("%s without its audit record: %d %s", tc.desc, status, b)
			}
			if tc.made() {
				t.Fatalf("%s was made without an audit record", tc.desc)
			}
			recs, err := ts.db.ListAudit(ctx, store.AuditQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if last := recs[len(recs)-1]; last.Action != tc.action || last.Outcome != "failure" {
				t.Fatalf("last record %+v, want the failed %s", last, tc.action)
			}
		})
	}
}
