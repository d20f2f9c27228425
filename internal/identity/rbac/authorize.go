// Package rbac decides what a principal may do in a team: roles map to
// permissions, token scopes narrow them, and Authorize tells a missing
// membership (404) from a missing permission (403).
//
// The tenancy rule callers must keep: an object of a team the caller is
// not a member of does not exist for that caller. Handlers load the object,
// call Authorize with the object's team, and answer ErrNotFound with the
// very same 404 body as a missing object, never 403: a 403 would confirm
// the ID exists. ErrForbidden (403) is only for members, who may already
// know the object exists.
package rbac

import "fmt"

// Principal is an authenticated caller: a user's session, or a token.
type Principal struct {
	// Subject identifies the caller in logs and audit records (a user ID,
	// or a token ID: never the token).
	Subject string
	// Teams maps team IDs to the caller's role there. A team token has
	// exactly one entry.
	Teams map[string]Role
	// Scope narrows a token; the zero Scope (an interactive session) does
	// not narrow.
	Scope Scope
	// PlatformAdmin holds every permission in every team (the operator who
	// installed the server), still narrowed by Scope.
	PlatformAdmin bool
	// GatewayEnv is set for the token of the gateway Berth runs in an
	// environment's cluster: it may read that environment's route feed
	// (its snapshot and the watch of its apps) and holds no permission in
	// any team.
	GatewayEnv string
}

// Role is the caller's role in team; false when it is not a member (a
// platform admin counts as owner of every team).
func (p Principal) Role(team string) (Role, bool) {
	if p.PlatformAdmin {
		return RoleOwner, true
	}
	r, ok := p.Teams[team]
	if !ok || !r.Valid() {
		return "", false
	}
	return r, true
}

// Can reports whether the caller holds perm in team: role ∩ scope.
func (p Principal) Can(team string, perm Permission) bool {
	return Authorize(p, team, perm) == nil
}

// Effective lists the caller's permissions in team (role ∩ scope),
// sorted; nil when not a member.
func (p Principal) Effective(team string) []Permission {
	var out []Permission
	for _, perm := range AllPermissions() {
		if p.Can(team, perm) {
			out = append(out, perm)
		}
	}
	return out
}

// Authorize returns nil when p may use perm in team, ErrNotFound when p is
// not a member of team (answer 404, as for a missing object), ErrForbidden
// when p is a member whose role or token scope lacks perm (403), and
// ErrUnknownPermission for a permission outside the table.
func Authorize(p Principal, team string, perm Permission) error {
	min, ok := minScope(perm)
	if !ok {
		return fmt.Errorf("rbac: %w %q", ErrUnknownPermission, perm)
	}
	role, member := p.Role(team)
	if !member {
		return fmt.Errorf("rbac: %s in team %q: %w", p.Subject, team, ErrNotFound)
	}
	if !role.Can(perm) {
		return fmt.Errorf("rbac: %s is %s in team %q, which lacks %s: %w", p.Subject, role, team, perm, ErrForbidden)
	}
	if p.Scope != "" && !p.Scope.Includes(min) {
		return fmt.Errorf("rbac: %s's token has scope %q; %s needs %q: %w", p.Subject, p.Scope, perm, min, ErrForbidden)
	}
	return nil
}
