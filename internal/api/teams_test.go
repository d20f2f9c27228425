package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/pkg/api"
)

func TestInvitations(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	shop, other := ts.createTeam(t, "shop"), ts.createTeam(t, "other")
	owner := ts.addUser(t, "owner@example.com", map[string]rbac.Role{shop.ID: rbac.RoleAdmin})
	ownerTok, _ := ts.personalToken(t, owner.ID, rbac.ScopeAdmin)
	newbie := ts.addUser(t, "new@example.com", nil)
	newbieTok, _ := ts.personalToken(t, newbie.ID, rbac.ScopeAdmin)
	stranger := ts.addUser(t, "stranger@example.com", nil)
	strangerTok, _ := ts.personalToken(t, stranger.ID, rbac.ScopeAdmin)

	var inv api.Invitation
	ts.mustAs(t, ownerTok, http.StatusCreated, http.MethodPost, "/api/v1/teams/shop/invitations", api.CreateInvitationRequest{Role: "viewer"}, &inv)
	if inv.Token == "" || inv.Team != "shop" || inv.Role != "viewer" {
		t.Fatalf("invitation %+v", inv)
	}
	t.Run("an admin may not invite owners", func(t *testing.T) {
		status, b := ts.callAs(t, ownerTok, http.MethodPost, "/api/v1/teams/shop/invitations", api.CreateInvitationRequest{Role: "owner"})
		if status != http.StatusUnprocessableEntity || decodeError(t, b).Details[0].Field != "role" {
			t.Fatalf("%d %s", status, b)
		}
	})
	t.Run("accepting cannot choose team or role", func(t *testing.T) {
		for _, body := range []map[string]string{
			{"token": inv.Token, "team": other.ID},
			{"token": inv.Token, "role": "owner"},
		} {
			status, b := ts.callAs(t, newbieTok, http.MethodPost, "/api/v1/invitations/accept", body)
			e := decodeError(t, b)
			if status != http.StatusUnprocessableEntity || len(e.Details) != 1 || (e.Details[0].Field != "team" && e.Details[0].Field != "role") {
				t.Fatalf("accept with %v: %d %s", body, status, b)
			}
		}
		var joined api.Invitation
		ts.mustAs(t, newbieTok, http.StatusOK, http.MethodPost, "/api/v1/invitations/accept", api.AcceptInvitationRequest{Token: inv.Token}, &joined)
		var who api.Whoami
		ts.mustAs(t, newbieTok, http.StatusOK, http.MethodGet, "/api/v1/whoami", nil, &who)
		if len(who.Teams) != 1 || who.Teams["shop"] != "viewer" {
			t.Fatalf("after accepting: %+v", who)
		}
	})
	t.Run("single use", func(t *testing.T) {
		if status, b := ts.callAs(t, strangerTok, http.MethodPost, "/api/v1/invitations/accept", api.AcceptInvitationRequest{Token: inv.Token}); status != http.StatusNotFound {
			t.Fatalf("second accept: %d %s", status, b)
		}
	})
	t.Run("bound to an email", func(t *testing.T) {
		var bound api.Invitation
		ts.mustAs(t, ownerTok, http.StatusCreated, http.MethodPost, "/api/v1/teams/shop/invitations", api.CreateInvitationRequest{Role: "developer", Email: "new@example.com"}, &bound)
		if status, _ := ts.callAs(t, strangerTok, http.MethodPost, "/api/v1/invitations/accept", api.AcceptInvitationRequest{Token: bound.Token}); status != http.StatusNotFound {
			t.Fatalf("stranger accepts another's invitation: %d", status)
		}
		// The stranger's try did not burn it.
		ts.mustAs(t, newbieTok, http.StatusOK, http.MethodPost, "/api/v1/invitations/accept", api.AcceptInvitationRequest{Token: bound.Token}, nil)
	})
	t.Run("expired", func(t *testing.T) {
		var short api.Invitation
		ts.mustAs(t, ownerTok, http.StatusCreated, http.MethodPost, "/api/v1/teams/shop/invitations", api.CreateInvitationRequest{Role: "viewer", ExpiresIn: "1h"}, &short)
		ts.clock.mu.Lock()
		ts.clock.now = ts.clock.now.Add(2 * time.Hour)
		ts.clock.mu.Unlock()
		if status, _ := ts.callAs(t, strangerTok, http.MethodPost, "/api/v1/invitations/accept", api.AcceptInvitationRequest{Token: short.Token}); status != http.StatusNotFound {
			t.Fatalf("expired invitation accepted: %d", status)
		}
	})
	t.Run("invitation list shows no codes", func(t *testing.T) {
		var list []api.Invitation
		ts.mustAs(t, ownerTok, http.StatusOK, http.MethodGet, "/api/v1/teams/shop/invitations", nil, &list)
		for _, x := range list {
			if x.Token != "" {
				t.Errorf("listed code: %+v", x)
			}
		}
	})
}

func TestRoleRules(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	shop := ts.createTeam(t, "shop")
	admin := ts.addUser(t, "admin@example.com", map[string]rbac.Role{shop.ID: rbac.RoleAdmin})
	owner := ts.addUser(t, "owner@example.com", map[string]rbac.Role{shop.ID: rbac.RoleOwner})
	dev := ts.addUser(t, "dev@example.com", map[string]rbac.Role{shop.ID: rbac.RoleDeveloper})
	outsider := ts.addUser(t, "out@example.com", nil)
	adminTok, _ := ts.personalToken(t, admin.ID, rbac.ScopeAdmin)
	dev2 := ts.addUser(t, "dev2@example.com", map[string]rbac.Role{shop.ID: rbac.RoleDeveloper})
	devTok, _ := ts.personalToken(t, dev2.ID, rbac.ScopeAdmin)
	tests := []struct {
		desc   string
		tok    string
		user   string
		role   string
		status int
		field  string
	}{
		{desc: "admin raises a developer to admin", tok: adminTok, user: dev.ID, role: "admin", status: 200},
		{desc: "admin may not grant owner", tok: adminTok, user: dev.ID, role: "owner", status: 422, field: "role"},
		{desc: "admin may not demote an owner", tok: adminTok, user: owner.ID, role: "viewer", status: 422, field: "role"},
		{desc: "unknown role", tok: adminTok, user: dev.ID, role: "superuser", status: 422, field: "role"},
		{desc: "non-members join by invitation", tok: adminTok, user: outsider.ID, role: "viewer", status: 404},
		{desc: "developers manage no members", tok: devTok, user: dev2.ID, role: "viewer", status: 403},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			status, b := ts.callAs(t, tc.tok, http.MethodPut, "/api/v1/teams/shop/members/"+tc.user, api.SetRoleRequest{Role: tc.role})
			if status != tc.status {
				t.Fatalf("%d %s", status, b)
			}
			if tc.field != "" {
				if e := decodeError(t, b); len(e.Details) == 0 || e.Details[0].Field != tc.field {
					t.Fatalf("details %+v, want field %s", e.Details, tc.field)
				}
			}
		})
	}
	t.Run("apply may not set fields it does not take", func(t *testing.T) {
		status, b := ts.callAs(t, adminTok, http.MethodPost, "/api/v1/apply", map[string]string{"spec": specV1, "owner": "someone"})
		if status != http.StatusUnprocessableEntity || decodeError(t, b).Details[0].Field != "owner" {
			t.Fatalf("%d %s", status, b)
		}
	})
	t.Run("apply into a team that is not the caller's", func(t *testing.T) {
		ts.createTeam(t, "blog")
		status, b := ts.callAs(t, adminTok, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: specV1, Team: "blog"})
		if status != http.StatusUnprocessableEntity || decodeError(t, b).Details[0].Field != "team" {
			t.Fatalf("%d %s", status, b)
		}
	})
	t.Run("another team's app name answers 409 and nothing else", func(t *testing.T) {
		ts.applyIn(t, "blog", specV1) // "shop" app owned by blog
		status, b := ts.callAs(t, adminTok, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: specV2})
		if status != http.StatusConflict || strings.Contains(string(b), "blog") {
			t.Fatalf("%d %s", status, b)
		}
	})
}
