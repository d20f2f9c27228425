package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// callAs makes a request with another bearer token.
func (ts *testServer) callAs(t *testing.T, tok, method, path string, body any) (int, []byte) {
	t.Helper()
	resp := ts.do(t, method, path, body, map[string]string{"Authorization": "Bearer " + tok})
	defer resp.Body.Close()
	return resp.StatusCode, readAll(t, resp)
}

// mustAs is callAs that fails unless the status is want, decoding into out.
func (ts *testServer) mustAs(t *testing.T, tok string, want int, method, path string, body, out any) {
	t.Helper()
	status, b := ts.callAs(t, tok, method, path, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// createTeam makes a team as the platform admin.
func (ts *testServer) createTeam(t *testing.T, name string) api.Team {
	t.Helper()
	var team api.Team
	ts.mustCall(t, http.StatusCreated, http.MethodPost, "/api/v1/teams", api.CreateTeamRequest{Name: name}, &team)
	return team
}

// addUser stores a user (no password) with roles in teams (team ID -> role).
func (ts *testServer) addUser(t *testing.T, email string, roles map[string]rbac.Role) store.User {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC()
	u := store.User{ID: newID("user"), Email: email, CreatedAt: now, UpdatedAt: now}
	if err := ts.db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for team, role := range roles {
		if err := ts.db.PutMember(ctx, store.Member{Team: team, User: u.ID, Role: string(role), Source: "manual", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// personalToken stores a personal token of user with scope.
func (ts *testServer) personalToken(t *testing.T, user string, scope rbac.Scope) (string, store.Token) {
	t.Helper()
	return ts.storeToken(t, store.Token{Kind: string(token.KindPersonal), User: user, Scope: string(scope)})
}

// teamToken stores a team token of team with role and scope.
func (ts *testServer) teamToken(t *testing.T, team string, role rbac.Role, scope rbac.Scope) (string, store.Token) {
	t.Helper()
	return ts.storeToken(t, store.Token{Kind: string(token.KindTeam), Team: team, Role: string(role), Scope: string(scope)})
}

func (ts *testServer) storeToken(t *testing.T, row store.Token) (string, store.Token) {
	t.Helper()
	tok, st, err := token.New(token.Kind(row.Kind), rbac.Scope(row.Scope), time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	row.ID, row.Name, row.Hash, row.Last4, row.CreatedAt = newID("tok"), "test", st.Hash, st.Last4, time.Now().UTC()
	if err := ts.db.CreateToken(t.Context(), row); err != nil {
		t.Fatal(err)
	}
	return tok, row
}

// applyIn applies spec into team as the platform admin.
func (ts *testServer) applyIn(t *testing.T, team, spec string) api.ApplyResponse {
	t.Helper()
	var resp api.ApplyResponse
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: spec, Team: team}, &resp)
	return resp
}

// sessionFor gives user a password and logs in, returning the session
// cookie's value and the CSRF token.
func (ts *testServer) sessionFor(t *testing.T, userID string) (string, string) {
	t.Helper()
	u, err := ts.db.GetUser(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse battery staple"
	u.PasswordHash = testPasswordHash(t, pw)
	if err := ts.db.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	resp := ts.do(t, http.MethodPost, "/api/v1/auth/login", api.LoginRequest{Email: u.Email, Password: pw}, nil)
	defer resp.Body.Close()
	b := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d %s", u.Email, resp.StatusCode, b)
	}
	var lr api.LoginResponse
	if err := json.Unmarshal(b, &lr); err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			return c.Value, lr.CSRFToken
		}
	}
	t.Fatalf("login set no %s cookie", SessionCookie)
	return "", ""
}
