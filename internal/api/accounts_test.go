package api

import (
	"io"
	"net/http"
	"testing"

	"github.com/berthdev/berth/internal/identity/audit"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// callSession calls as a console session (cookie and CSRF token).
func (ts *testServer) callSession(t *testing.T, se, csrf, method, path string, body any) (int, []byte) {
	t.Helper()
	resp := ts.do(t, method, path, body, isoCaller{session: se, csrf: csrf}.headers())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// A user changes their own password with the current one: their other
// sessions end, the calling one goes on, the new password signs in and
// the old one does not. Wrong or weak input changes nothing.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	team := ts.createTeam(t, "team-a")
	u := ts.addUser(t, "ann@a.example", map[string]rbac.Role{team.ID: rbac.RoleDeveloper})
	se1, csrf1 := ts.sessionFor(t, u.ID)
	se2, csrf2 := ts.sessionFor(t, u.ID)
	const oldPW, newPW = "correct horse battery staple", "a much newer passphrase 42"
	const path = "/api/v1/users/me/password"

	readTok, _ := ts.personalToken(t, u.ID, rbac.ScopeRead)
	teamTok, _ := ts.teamToken(t, team.ID, rbac.RoleAdmin, rbac.ScopeAdmin)
	refused := []struct {
		desc   string
		call   func() (int, []byte)
		status int
		field  string
	}{
		{"wrong current password", func() (int, []byte) {
			return ts.callSession(t, se1, csrf1, "POST", path, api.ChangePasswordRequest{CurrentPassword: "not it", NewPassword: newPW})
		}, 422, "current_password"},
		{"a new password the policy refuses", func() (int, []byte) {
			return ts.callSession(t, se1, csrf1, "POST", path, api.ChangePasswordRequest{CurrentPassword: oldPW, NewPassword: "short"})
		}, 422, "new_password"},
		{"no new password", func() (int, []byte) {
			return ts.callSession(t, se1, csrf1, "POST", path, api.ChangePasswordRequest{CurrentPassword: oldPW})
		}, 422, "new_password"},
		{"a read-scoped token", func() (int, []byte) {
			return ts.callAs(t, readTok, "POST", path, api.ChangePasswordRequest{CurrentPassword: oldPW, NewPassword: newPW})
		}, 403, ""},
		{"a team token (no user)", func() (int, []byte) {
			return ts.callAs(t, teamTok, "POST", path, api.ChangePasswordRequest{CurrentPassword: oldPW, NewPassword: newPW})
		}, 403, ""},
	}
	for _, tt := range refused {
		status, body := tt.call()
		e := decodeError(t, body)
		if status != tt.status || (tt.field != "" && (len(e.Details) == 0 || e.Details[0].Field != tt.field)) {
			t.Errorf("%s: %d %s; want %d naming %q", tt.desc, status, body, tt.status, tt.field)
		}
	}
	if status, _ := ts.callSession(t, se2, csrf2, "GET", "/api/v1/whoami", nil); status != 200 {
		t.Fatalf("refused changes ended a session: %d", status)
	}

	if status, body := ts.callSession(t, se1, csrf1, "POST", path, api.ChangePasswordRequest{CurrentPassword: oldPW, NewPassword: newPW}); status != http.StatusNoContent {
		t.Fatalf("change password: %d %s", status, body)
	}
	if status, _ := ts.callSession(t, se1, csrf1, "GET", "/api/v1/whoami", nil); status != 200 {
		t.Errorf("the session that changed the password: %d, want it to go on", status)
	}
	if status, _ := ts.callSession(t, se2, csrf2, "GET", "/api/v1/whoami", nil); status != 401 {
		t.Errorf("another session of the user: %d, want 401", status)
	}
	for pw, want := range map[string]int{oldPW: 401, newPW: 200} {
		resp := ts.do(t, "POST", "/api/v1/auth/login", api.LoginRequest{Email: u.Email, Password: pw}, nil)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("login with the %s password: %d, want %d", map[bool]string{true: "old", false: "new"}[pw == oldPW], resp.StatusCode, want)
		}
	}
	wantAudit(t, ts, "user.change_password", "user/"+u.ID, audit.OutcomeSuccess)
}

// wantAudit fails unless the audit log has a record of action on object
// with outcome.
func wantAudit(t *testing.T, ts *testServer, action, object string, outcome audit.Outcome) {
	t.Helper()
	recs, err := ts.db.ListAudit(t.Context(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Action == action && r.Object == object && r.Outcome == outcome {
			return
		}
	}
	t.Errorf("no audit record %s %s %s among %d", action, object, outcome, len(recs))
}

// A platform admin disables a user: their sessions and tokens fail on the
// next call and they cannot sign in; enabling lets them back in. To
// anyone else a user is as missing as one that does not exist.
func TestDisableAndEnableUser(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	team := ts.createTeam(t, "team-a")
	u := ts.addUser(t, "bob@a.example", map[string]rbac.Role{team.ID: rbac.RoleAdmin})
	se, csrf := ts.sessionFor(t, u.ID)
	tok, _ := ts.personalToken(t, u.ID, rbac.ScopeAdmin)
	owner := ts.addUser(t, "own@a.example", map[string]rbac.Role{team.ID: rbac.RoleOwner})
	ownerTok, _ := ts.personalToken(t, owner.ID, rbac.ScopeAdmin)

	status, body := ts.callAs(t, ownerTok, "POST", "/api/v1/users/"+u.ID+"/disable", nil)
	_, missBody := ts.callAs(t, ownerTok, "POST", "/api/v1/users/user_0000000000000000/disable", nil)
	if got, want := normalise404(t, body, map[string]string{"user": u.ID}), normalise404(t, missBody, map[string]string{"user": "user_0000000000000000"}); status != 404 || got != want {
		t.Errorf("a team owner (no platform admin) disabling a user: %d %s, want the 404 of a missing user %s", status, got, want)
	}
	var got api.User
	ts.mustCall(t, http.StatusOK, "POST", "/api/v1/users/"+u.ID+"/disable", nil, &got)
	if !got.Disabled {
		t.Errorf("disable answered %+v", got)
	}
	if status, _ := ts.callAs(t, tok, "GET", "/api/v1/whoami", nil); status != 401 {
		t.Errorf("a disabled user's token: %d, want 401", status)
	}
	if status, _ := ts.callSession(t, se, csrf, "GET", "/api/v1/whoami", nil); status != 401 {
		t.Errorf("a disabled user's session: %d, want 401", status)
	}
	login := func() int {
		resp := ts.do(t, "POST", "/api/v1/auth/login", api.LoginRequest{Email: u.Email, Password: "correct horse battery staple"}, nil)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := login(); s != 401 {
		t.Errorf("a disabled user signs in: %d", s)
	}
	got = api.User{}
	ts.mustCall(t, http.StatusOK, "POST", "/api/v1/users/"+u.ID+"/enable", nil, &got)
	if got.Disabled {
		t.Errorf("enable answered %+v", got)
	}
	if status, _ := ts.callAs(t, tok, "GET", "/api/v1/whoami", nil); status != 200 {
		t.Errorf("an enabled user's token: %d, want 200", status)
	}
	if s := login(); s != 200 {
		t.Errorf("an enabled user signs in: %d", s)
	}
	wantAudit(t, ts, "user.disable", "user/"+u.ID, audit.OutcomeSuccess)
	wantAudit(t, ts, "user.enable", "user/"+u.ID, audit.OutcomeSuccess)
	wantAudit(t, ts, "user.disable", "user/"+u.ID, audit.OutcomeDenied)
}

// A team's owner renames it; admins may not; a taken or invalid name is
// refused and changes nothing.
func TestRenameTeam(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	team := ts.createTeam(t, "team-a")
	ts.createTeam(t, "team-b")
	owner := ts.addUser(t, "own@a.example", map[string]rbac.Role{team.ID: rbac.RoleOwner})
	ownerTok, _ := ts.personalToken(t, owner.ID, rbac.ScopeAdmin)
	admin := ts.addUser(t, "adm@a.example", map[string]rbac.Role{team.ID: rbac.RoleAdmin})
	adminTok, _ := ts.personalToken(t, admin.ID, rbac.ScopeAdmin)
	path := "/api/v1/teams/" + team.ID
	tests := []struct {
		desc, tok, name string
		status          int
	}{
		{"an admin", adminTok, "team-x", 403},
		{"a taken name", ownerTok, "team-b", 409},
		{"not a name", ownerTok, "Team X", 422},
	}
	for _, tt := range tests {
		if status, body := ts.callAs(t, tt.tok, "PATCH", path, api.RenameTeamRequest{Name: tt.name}); status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.desc, status, body, tt.status)
		}
	}
	if got, _ := ts.db.GetTeam(t.Context(), team.ID); got.Name != "team-a" {
		t.Fatalf("refused renames changed the name to %q", got.Name)
	}
	var got api.Team
	ts.mustAs(t, ownerTok, http.StatusOK, "PATCH", path, api.RenameTeamRequest{Name: "team-renamed"}, &got)
	if got.ID != team.ID || got.Name != "team-renamed" || got.Role != "owner" {
		t.Errorf("rename answered %+v", got)
	}
	ts.mustAs(t, ownerTok, http.StatusOK, "GET", "/api/v1/teams/team-renamed", nil, &got)
	wantAudit(t, ts, "team.rename", "team/team-a", audit.OutcomeSuccess)
}
