package api

import (
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// The store's records and the wire shapes differ in what they hide
// (versions, ports, the deleting flag); these functions are the only place
// that maps one to the other.

func toAPIApp(a store.App) api.App {
	status := a.Status
	if a.Deleting {
		status.Phase = api.PhaseDeleting
	}
	return api.App{
		Name:          a.Name,
		LatestRelease: a.LatestRelease,
		TargetRelease: a.TargetRelease,
		Status:        status,
		CreatedAt:     a.CreatedAt,
		UpdatedAt:     a.UpdatedAt,
		Env:           a.Env,
	}
}

// withTeam sets the app's team name from names (team ID -> name).
func withTeam(a api.App, names map[string]string, team string) api.App {
	a.Team = names[team]
	return a
}

func toAPIRelease(r store.Release) api.Release {
	return api.Release{
		App:        r.App,
		Number:     r.Number,
		Spec:       r.Spec,
		SpecHash:   r.SpecHash,
		Source:     r.Source,
		Artifacts:  r.Artifacts,
		Cause:      r.Cause,
		RollbackOf: r.RollbackOf,
		State:      r.State,
		Reason:     r.Reason,
		Message:    r.Message,
		CreatedAt:  r.CreatedAt,
		Config:     r.Config,
	}
}

func toAPIEvent(e store.Event) api.Event {
	return api.Event{
		Revision: e.Revision,
		Kind:     e.Kind,
		App:      e.App,
		Release:  e.Release,
		Time:     e.Time,
		Data:     e.Data,
	}
}
