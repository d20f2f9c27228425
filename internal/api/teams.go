package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/identity/password"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Invitations last a week unless asked otherwise, and never over 30 days.
const (
	defaultInviteTTL = 7 * 24 * time.Hour
	maxInviteTTL     = 30 * 24 * time.Hour
)

// loadTeam reads the team {team} (by ID or name) the caller may use perm
// in; an unknown team and another team answer the same 404.
func (s *server) loadTeam(ctx context.Context, ref string, perm rbac.Permission) (store.Team, error) {
	missing := notFound("team %q not found", ref)
	t, err := s.Store.GetTeam(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		t, err = s.Store.GetTeamByName(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Team{}, missing
	}
	if err != nil {
		return store.Team{}, fmt.Errorf("get team %s: %w", ref, err)
	}
	setAuditObject(ctx, "team/"+t.Name)
	if err := s.authorize(ctx, t.ID, perm, missing); err != nil {
		return store.Team{}, err
	}
	return t, nil
}

func (s *server) listTeams(w http.ResponseWriter, r *http.Request) error {
	teams, err := s.Store.ListTeams(r.Context())
	if err != nil {
		return fmt.Errorf("list teams: %w", err)
	}
	p, _ := principalFrom(r.Context())
	out := []api.Team{}
	for _, t := range teams {
		if role, ok := p.Role(t.ID); ok && p.Can(t.ID, rbac.MembersRead) {
			out = append(out, api.Team{ID: t.ID, Name: t.Name, Role: string(role), CreatedAt: t.CreatedAt})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getTeam(w http.ResponseWriter, r *http.Request) error {
	t, err := s.loadTeam(r.Context(), r.PathValue("team"), rbac.MembersRead)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, teamAnswer(r.Context(), t))
	return nil
}

// createTeam makes a team (platform admins only); the caller, when a user,
// becomes its owner.
func (s *server) createTeam(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateTeamRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	setAuditObject(r.Context(), "team/"+req.Name)
	if err := s.platformAdmin(r.Context(), rbac.TeamsManage, forbidden("only platform admins create teams; ask one")); err != nil {
		return err
	}
	if !appNameRE.MatchString(req.Name) {
		return invalidField("name", "%q is not a team name (lower-case letters, digits and '-', 1 to 63 characters)", req.Name)
	}
	now := s.Now().UTC()
	t := store.Team{ID: newID("team"), Name: req.Name, CreatedAt: now}
	c := callerFrom(r.Context())
	if n := auditFrom(r.Context()); n != nil {
		n.team = t.ID
	}
	err := s.inTx(r.Context(), func(tx store.Tx) error {
		if err := tx.CreateTeam(r.Context(), t); err != nil {
			return err
		}
		if c.user.ID == "" {
			return nil
		}
		return tx.PutMember(r.Context(), store.Member{Team: t.ID, User: c.user.ID, Role: string(rbac.RoleOwner), Source: "manual", CreatedAt: now})
	})
	if errors.Is(err, store.ErrExists) {
		return conflict("a team named %q exists already", req.Name)
	}
	if err != nil {
		return fmt.Errorf("create team: %w", err)
	}
	writeJSON(w, http.StatusCreated, api.Team{ID: t.ID, Name: t.Name, Role: string(rbac.RoleOwner), CreatedAt: t.CreatedAt})
	return nil
}

func (s *server) listMembers(w http.ResponseWriter, r *http.Request) error {
	t, err := s.loadTeam(r.Context(), r.PathValue("team"), rbac.MembersRead)
	if err != nil {
		return err
	}
	ms, err := s.Store.ListMembers(r.Context(), t.ID)
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	out := make([]api.Member, 0, len(ms))
	for _, m := range ms {
		am := api.Member{Team: t.Name, User: m.User, Role: m.Role, Source: m.Source, CreatedAt: m.CreatedAt}
		if u, err := s.Store.GetUser(r.Context(), m.User); err == nil {
			am.Email = u.Email
		}
		out = append(out, am)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// grantable checks that the caller may hand out (or take away) role in
// team: never above its own role. field names the input in the error.
func grantable(ctx context.Context, team, field string, role rbac.Role) error {
	p, _ := principalFrom(ctx)
	mine, _ := p.Role(team)
	if !mine.AtLeast(role) {
		return invalidField(field, "a %s may not grant or change the role %s; ask an owner", mine, role)
	}
	return nil
}

// setRole changes a member's role (`berth role set`). The user must be a
// member already (new people join by invitation); platform admins may add
// any user.
func (s *server) setRole(w http.ResponseWriter, r *http.Request) error {
	var req api.SetRoleRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	t, err := s.loadTeam(r.Context(), r.PathValue("team"), rbac.MembersManage)
	if err != nil {
		return err
	}
	userID := r.PathValue("user")
	setAuditObject(r.Context(), "member/"+t.Name+"/"+userID)
	setAuditDetail(r.Context(), "role", req.Role)
	role, err := rbac.ParseRole("role", req.Role)
	if err != nil {
		return invalidField("role", "%q is not a role; want one of %v", req.Role, rbac.AllRoles())
	}
	if err := grantable(r.Context(), t.ID, "role", role); err != nil {
		return err
	}
	missing := notFound("user %q is not a member of team %q; invite them with POST /api/v1/teams/%s/invitations", userID, t.Name, t.Name)
	p, _ := principalFrom(r.Context())
	var out api.Member
	err = s.inTx(r.Context(), func(tx store.Tx) error {
		m, err := tx.GetMember(r.Context(), t.ID, userID)
		switch {
		case errors.Is(err, store.ErrNotFound) && p.PlatformAdmin:
			if _, err := tx.GetUser(r.Context(), userID); errors.Is(err, store.ErrNotFound) {
				return missing
			} else if err != nil {
				return err
			}
			m = store.Member{Team: t.ID, User: userID, Source: "manual", CreatedAt: s.Now().UTC()}
		case errors.Is(err, store.ErrNotFound):
			return missing
		case err != nil:
			return err
		default:
			if err := grantable(r.Context(), t.ID, "role", rbac.Role(m.Role)); err != nil {
				return err
			}
		}
		m.Role = string(role)
		if err := tx.PutMember(r.Context(), m); err != nil {
			return err
		}
		out = api.Member{Team: t.Name, User: m.User, Role: m.Role, Source: m.Source, CreatedAt: m.CreatedAt}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) removeMember(w http.ResponseWriter, r *http.Request) error {
	t, err := s.loadTeam(r.Context(), r.PathValue("team"), rbac.MembersManage)
	if err != nil {
		return err
	}
	userID := r.PathValue("user")
	setAuditObject(r.Context(), "member/"+t.Name+"/"+userID)
	err = s.inTx(r.Context(), func(tx store.Tx) error {
		m, err := tx.GetMember(r.Context(), t.ID, userID)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("user %q is not a member of team %q", userID, t.Name)
		}
		if err != nil {
			return err
		}
		if err := grantable(r.Context(), t.ID, "user", rbac.Role(m.Role)); err != nil {
			return err
		}
		return tx.DeleteMember(r.Context(), t.ID, userID)
	})
	if err != nil {
		return err
	}
	s.revocations.Poke()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) listInvitations(w http.ResponseWriter, r *http.Request) error {
	t, err := s.loadTeam(r.Context(), r.PathValue("team"), rbac.MembersManage)
	if err != nil {
		return err
	}
	invs, err := s.Store.ListInvitations(r.Context(), t.ID)
	if err != nil {
		return fmt.Errorf("list invitations: %w", err)
	}
	out := make([]api.Invitation, 0, len(invs))
	for _, inv := range invs {
		out = append(out, toAPIInvitation(inv, t.Name))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func toAPIInvitation(inv store.Invitation, team string) api.Invitation {
	return api.Invitation{ID: inv.ID, Team: team, Role: inv.Role, Email: inv.Email, ExpiresAt: inv.ExpiresAt,
		AcceptedAt: inv.AcceptedAt, CreatedAt: inv.CreatedAt}
}

// createInvitation makes a single-use code that joins the team with the
// role given here; the code is in this answer only.
func (s *server) createInvitation(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateInvitationRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	t, err := s.loadTeam(r.Context(), r.PathValue("team"), rbac.MembersManage)
	if err != nil {
		return err
	}
	role, err := rbac.ParseRole("role", req.Role)
	if err != nil {
		return invalidField("role", "%q is not a role; want one of %v", req.Role, rbac.AllRoles())
	}
	if err := grantable(r.Context(), t.ID, "role", role); err != nil {
		return err
	}
	ttl := defaultInviteTTL
	if req.ExpiresIn != "" {
		if ttl, err = time.ParseDuration(req.ExpiresIn); err != nil || ttl <= 0 || ttl > maxInviteTTL {
			return invalidField("expires_in", "%q is not a duration between 1s and %v (e.g. \"72h\")", req.ExpiresIn, maxInviteTTL)
		}
	}
	now := s.Now().UTC()
	code := "berth_inv_" + randomSecret()
	inv := store.Invitation{ID: newID("inv"), Hash: token.Hash(code), Team: t.ID, Role: string(role),
		Email: strings.TrimSpace(req.Email), CreatedBy: callerFrom(r.Context()).actor(), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	setAuditObject(r.Context(), "invitation/"+inv.ID)
	setAuditDetail(r.Context(), "role", inv.Role)
	if err := s.inTx(r.Context(), func(tx store.Tx) error { return tx.CreateInvitation(r.Context(), inv) }); err != nil {
		return fmt.Errorf("create invitation: %w", err)
	}
	out := toAPIInvitation(inv, t.Name)
	out.Token = code
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// acceptInvitation joins the invitation's team with the invitation's
// role. The body has only the code: team and role cannot be chosen (the
// invitation-hijacking hole), and a code bound to an email works only for
// that user.
func (s *server) acceptInvitation(w http.ResponseWriter, r *http.Request) error {
	var req api.AcceptInvitationRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	c := callerFrom(r.Context())
	if c.user.ID == "" {
		return invalidField("token", "an invitation is accepted by a user (a session or a personal token), not by a team token")
	}
	invalid := notFound("invitation not found, used or expired; ask for a new one")
	var joined store.Invitation
	err := s.inTx(r.Context(), func(tx store.Tx) error {
		inv, err := tx.AcceptInvitation(r.Context(), token.Hash(req.Token), c.user.ID, s.Now().UTC())
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			return invalid
		}
		if err != nil {
			return err
		}
		if inv.Email != "" && !strings.EqualFold(inv.Email, c.user.Email) {
			return invalid // rolls the acceptance back: the code stays usable by its addressee
		}
		joined = inv
		if n := auditFrom(r.Context()); n != nil {
			n.team, n.object = inv.Team, "invitation/"+inv.ID
		}
		cur, err := tx.GetMember(r.Context(), inv.Team, c.user.ID)
		if err == nil && rbac.Role(cur.Role).AtLeast(rbac.Role(inv.Role)) {
			return nil // an invitation never lowers a role
		}
		return tx.PutMember(r.Context(), store.Member{Team: inv.Team, User: c.user.ID, Role: inv.Role, Source: "manual", CreatedAt: s.Now().UTC()})
	})
	if err != nil {
		auditFrom(r.Context()).deny()
		return err
	}
	t, err := s.Store.GetTeam(r.Context(), joined.Team)
	if err != nil {
		return fmt.Errorf("get team: %w", err)
	}
	writeJSON(w, http.StatusOK, toAPIInvitation(joined, t.Name))
	return nil
}

// listUsers is for platform admins; members see each other through
// GET /teams/{team}/members.
func (s *server) listUsers(w http.ResponseWriter, r *http.Request) error {
	if err := s.platformAdmin(r.Context(), rbac.MembersManage, forbidden("only platform admins list users; see a team's members with GET /api/v1/teams/{team}/members")); err != nil {
		return err
	}
	us, err := s.Store.ListUsers(r.Context())
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	out := make([]api.User, 0, len(us))
	for _, u := range us {
		out = append(out, toAPIUser(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createUser makes a local account (platform admins only).
func (s *server) createUser(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateUserRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	setAuditObject(r.Context(), "user/"+req.Email)
	if err := s.platformAdmin(r.Context(), rbac.MembersManage, forbidden("only platform admins create users; invite people into a team instead")); err != nil {
		return err
	}
	email := strings.TrimSpace(req.Email)
	if email == "" || !strings.Contains(email, "@") || len(email) > 254 {
		return invalidField("email", "%q is not an email address", req.Email)
	}
	now := s.Now().UTC()
	u := store.User{ID: newID("user"), Email: email, Name: req.Name, PlatformAdmin: req.PlatformAdmin, CreatedAt: now, UpdatedAt: now}
	if req.Password != "" {
		h, err := password.Hash("password", req.Password, password.DefaultParams)
		if err != nil {
			return invalidField("password", "%s", strings.TrimPrefix(err.Error(), "password: "))
		}
		u.PasswordHash = h
	}
	setAuditObject(r.Context(), "user/"+u.ID)
	if err := s.inTx(r.Context(), func(tx store.Tx) error { return tx.CreateUser(r.Context(), u) }); errors.Is(err, store.ErrExists) {
		return conflict("a user with email %q exists already", email)
	} else if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	writeJSON(w, http.StatusCreated, toAPIUser(u))
	return nil
}
