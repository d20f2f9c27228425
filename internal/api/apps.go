package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// listApps answers one page of the caller's apps, by name: the team
// filter and the paging are done by the store's query, so a page costs
// the same however many apps other teams have; and it reads the names of
// only the teams on the page, so a page costs the same however many teams
// there are (a platform admin's filter is "every team", asked of the
// database, not thousands of IDs sent to it).
func (s *server) listApps(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	// One more than asked tells whether another page follows.
	q := store.AppQuery{After: p.after, Limit: p.limit + 1}
	if q.AllTeams = s.inEveryTeam(r.Context(), rbac.AppsRead); !q.AllTeams {
		mine, err := s.teamsWith(r.Context(), rbac.AppsRead)
		if err != nil {
			return err
		}
		q.Teams = slices.Sorted(maps.Keys(mine))
	}
	apps, err := s.Store.ListAppsPage(r.Context(), q)
	if err != nil {
		return fmt.Errorf("list apps: %w", err)
	}
	if len(apps) > p.limit {
		apps = apps[:p.limit]
		setNext(w, r, p, apps[len(apps)-1].Name)
	}
	ids := make([]string, len(apps))
	for i, a := range apps {
		ids[i] = a.Team
	}
	names, err := s.teamNamesOf(r.Context(), ids...)
	if err != nil {
		return err
	}
	out := make([]api.App, 0, len(apps))
	for _, a := range apps {
		out = append(out, withTeam(toAPIApp(a), names, a.Team))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getApp(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	a, err := s.loadApp(r.Context(), s.Store, name, rbac.AppsRead)
	if err != nil {
		return err
	}
	names, err := s.teamNamesOf(r.Context(), a.Team)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, withTeam(toAPIApp(a), names, a.Team))
	return nil
}

// deleteApp marks the app for deletion; the reconciler stops its workloads
// and removes the record, so the answer is 202 Accepted.
func (s *server) deleteApp(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	var out store.App
	err = s.inTx(r.Context(), func(tx store.Tx) error {
		a, err := s.loadApp(r.Context(), tx, name, rbac.AppsDelete)
		if err != nil {
			return err
		}
		if a.Deleting {
			out = a // already on its way: deleting twice is not an error
			return nil
		}
		now := s.Now().UTC()
		a.Deleting = true
		a.UpdatedAt = now
		a.Status.Phase = api.PhaseDeleting
		a.Status.Message = "deletion requested"
		if a.Version, err = tx.UpdateApp(r.Context(), a); err != nil {
			return fmt.Errorf("update app %s: %w", name, err)
		}
		data, err := json.Marshal(a.Status)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		ev := store.Event{Kind: api.EventAppStatus, App: name, Release: a.TargetRelease, Time: now, Data: data}
		if _, err := tx.AppendEvent(r.Context(), ev); err != nil {
			return fmt.Errorf("append event: %w", err)
		}
		out = a
		return nil
	})
	if err != nil {
		return err
	}
	s.loggerFrom(r.Context()).Info("deletion requested", "app", name)
	s.changed(name)
	names, err := s.teamNamesOf(r.Context(), out.Team)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, withTeam(toAPIApp(out), names, out.Team))
	return nil
}
