package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// errNameTaken answers an apply of an app name another team owns: 409,
// and nothing about who owns it.
func errNameTaken(name string) *httpError {
	return conflict("the app name %q is taken; choose another name", name)
}

// applyTeam resolves the team a new app goes to: the request's team (by
// name or ID) when the caller may deploy there, else the caller's only
// team, else (platform admins) the default team.
func (s *server) applyTeam(ctx context.Context, want string) (store.Team, error) {
	return s.ownerTeam(ctx, want, teamChoice{perm: rbac.AppsDeploy, may: "deploy to", flag: "berth apply --team NAME"})
}

// teamChoice is what ownerTeam picks a team for.
type teamChoice struct {
	perm rbac.Permission
	may  string // "deploy to": what the caller may do in the team
	flag string // the CLI's way to name one
}

// ownerTeam resolves the team a new object goes to: the request's team
// (by name or ID) when the caller holds c.perm there, else the caller's
// only such team, else (platform admins) the default team.
func (s *server) ownerTeam(ctx context.Context, want string, c teamChoice) (store.Team, error) {
	mine, err := s.teamsWith(ctx, c.perm)
	if err != nil {
		return store.Team{}, err
	}
	names, err := s.teamNames(ctx)
	if err != nil {
		return store.Team{}, err
	}
	var choices []string
	for id := range mine {
		choices = append(choices, names[id])
	}
	slices.Sort(choices)
	if want != "" {
		p, _ := principalFrom(ctx)
		for id, name := range names {
			if _, member := p.Role(id); member && (name == want || id == want) {
				// A member who may not do it here learns why (403).
				if err := s.authorize(ctx, id, c.perm, nil); err != nil {
					return store.Team{}, err
				}
				return store.Team{ID: id, Name: name}, nil
			}
		}
		// The same answer whether the team exists or not: a team the
		// caller is not in is not theirs to name.
		return store.Team{}, invalidField("team", "%q is not a team you may %s; yours: %s", want, c.may, listOrNone(choices))
	}
	switch {
	case len(mine) == 1:
		for id := range mine {
			return store.Team{ID: id, Name: names[id]}, nil
		}
	case len(mine) == 0:
		auditFrom(ctx).deny()
		return store.Team{}, forbidden("this needs the %s permission in a team, which your roles or token scope lack", c.perm)
	}
	if p, _ := principalFrom(ctx); p.PlatformAdmin {
		t, err := s.Store.GetTeamByName(ctx, DefaultTeam)
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.Team{}, fmt.Errorf("default team: %w", err)
		}
	}
	return store.Team{}, newError(http.StatusUnprocessableEntity, api.CodeInvalid,
		"team: required: you may %s several teams (%s); name one with \"team\" (%s)", c.may, listOrNone(choices), c.flag).
		withDetails(api.FieldError{Field: "team", Message: "required: one of " + listOrNone(choices)})
}

// checkApplyOwner decides an apply of an existing app: the caller must
// deploy in the app's team (a name owned by a team the caller is not in
// answers errNameTaken), and a team given must be the app's own.
func (s *server) checkApplyOwner(ctx context.Context, a store.App, wantTeam string, team store.Team, teamErr error) error {
	if err := s.authorize(ctx, a.Team, rbac.AppsDeploy, errNameTaken(a.Name)); err != nil {
		return err
	}
	if wantTeam == "" {
		return nil
	}
	if teamErr != nil {
		return teamErr
	}
	if team.ID != a.Team {
		return invalidField("team", "app %q belongs to another team and cannot be moved by apply; leave team out", a.Name)
	}
	return nil
}

// teamNamesOf maps the given team IDs to names, reading only those teams
// (a list answer names the teams of its items, not every team).
func (s *server) teamNamesOf(ctx context.Context, ids ...string) (map[string]string, error) {
	names, err := s.Store.TeamNames(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("team names: %w", err)
	}
	return names, nil
}

// teamNames maps every team's ID to its name.
func (s *server) teamNames(ctx context.Context) (map[string]string, error) {
	teams, err := s.Store.ListTeams(ctx)
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	out := make(map[string]string, len(teams))
	for _, t := range teams {
		out[t.ID] = t.Name
	}
	return out, nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
