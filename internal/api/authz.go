package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/pkg/api"
)

// The one authorization point. Every non-public route declares the
// permission it needs (route.perm); a handler that touches a team's object
// loads it first and calls authorize with the object's own team, so a
// caller outside that team gets exactly the 404 a missing object gets.

const ctxPrincipal ctxKey = 100

// withPrincipal stores the authenticated caller in ctx.
func withPrincipal(ctx context.Context, p rbac.Principal) context.Context {
	return context.WithValue(ctx, ctxPrincipal, p)
}

// principalFrom returns the caller requireToken authenticated; false on a
// public route.
func principalFrom(ctx context.Context) (rbac.Principal, bool) {
	p, ok := ctx.Value(ctxPrincipal).(rbac.Principal)
	return p, ok
}

// authorize answers nil when the caller may use perm in team. A caller who
// is not a member of team gets notFoundErr — the very error the handler
// returns for a missing object, so the two cannot be told apart. A member
// whose role or token scope lacks perm gets 403.
func (s *server) authorize(ctx context.Context, team string, perm rbac.Permission, notFoundErr error) error {
	note := auditFrom(ctx)
	if note != nil && team != "" {
		note.team = team
	}
	p, ok := principalFrom(ctx)
	if !ok {
		note.deny()
		return notFoundErr
	}
	err := rbac.Authorize(p, team, perm)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rbac.ErrNotFound):
		note.deny()
		return notFoundErr
	case errors.Is(err, rbac.ErrForbidden):
		note.deny()
		if min, _ := rbac.MinScope(perm); p.Scope != "" && !p.Scope.Includes(min) {
			return forbidden("this needs the %s permission, which a %s-scoped token lacks (it needs scope %s)", perm, p.Scope, min)
		}
		return forbidden("this needs the %s permission, which your role lacks", perm)
	default:
		return fmt.Errorf("authorize %s: %w", perm, err)
	}
}

func forbidden(format string, args ...any) *httpError {
	return newError(http.StatusForbidden, api.CodeForbidden, format, args...)
}

// teamsWith lists the IDs of the teams in which the caller holds perm: a
// platform admin's are every team. Lists are filtered with it.
func (s *server) teamsWith(ctx context.Context, perm rbac.Permission) (map[string]bool, error) {
	p, ok := principalFrom(ctx)
	if !ok {
		return map[string]bool{}, nil
	}
	out := map[string]bool{}
	if p.PlatformAdmin {
		teams, err := s.Store.ListTeams(ctx)
		if err != nil {
			return nil, fmt.Errorf("list teams: %w", err)
		}
		for _, t := range teams {
			if p.Can(t.ID, perm) {
				out[t.ID] = true
			}
		}
		return out, nil
	}
	for team := range p.Teams {
		if p.Can(team, perm) {
			out[team] = true
		}
	}
	return out, nil
}

// inEveryTeam reports whether the caller holds perm in every team: a
// platform admin whose token scope allows it. Lists then ask the store
// for everything rather than for teamsWith's IDs, one per team.
func (s *server) inEveryTeam(ctx context.Context, perm rbac.Permission) bool {
	p, ok := principalFrom(ctx)
	// A platform admin's role is the same in every team, so any team
	// ("" here) answers for all of them.
	return ok && p.PlatformAdmin && p.Can("", perm)
}

// teamsAmong answers which of ids (the teams of a list's items) the
// caller holds perm in, and the names of those teams: for a platform admin
// the teams that exist, asked of the store for these IDs only, where
// teamsWith would read every team.
func (s *server) teamsAmong(ctx context.Context, perm rbac.Permission, ids []string) (visible map[string]bool, names map[string]string, err error) {
	if s.inEveryTeam(ctx, perm) {
		if names, err = s.teamNamesOf(ctx, ids...); err != nil {
			return nil, nil, err
		}
		visible = make(map[string]bool, len(names))
		for id := range names {
			visible[id] = true
		}
		return visible, names, nil
	}
	if visible, err = s.teamsWith(ctx, perm); err != nil {
		return nil, nil, err
	}
	names, err = s.teamNamesOf(ctx, slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !visible[id] })...)
	if err != nil {
		return nil, nil, err
	}
	return visible, names, nil
}

// authorizeAny is authorize for calls about no one team's object
// (validate, blob uploads): the caller must hold perm in some team.
func (s *server) authorizeAny(ctx context.Context, perm rbac.Permission) error {
	teams, err := s.teamsWith(ctx, perm)
	if err != nil {
		return err
	}
	if len(teams) == 0 {
		auditFrom(ctx).deny()
		return forbidden("this needs the %s permission in at least one team, which your roles or token scope lack", perm)
	}
	return nil
}

// platformAdmin answers notFoundErr unless the caller is a platform admin
// whose token scope allows perm.
func (s *server) platformAdmin(ctx context.Context, perm rbac.Permission, notFoundErr error) error {
	p, _ := principalFrom(ctx)
	if !p.PlatformAdmin {
		auditFrom(ctx).deny()
		return notFoundErr
	}
	return s.authorize(ctx, "", perm, notFoundErr)
}
