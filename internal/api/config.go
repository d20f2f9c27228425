package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Config sets: versioned key/value entries and files per app and
// environment. Every write appends a version; rollback appends a copy of
// an old one. A write that changes what the app's instances see creates a
// release (see configroll.go).

func toAPIConfig(v store.ConfigVersion) api.ConfigSet {
	entries := v.Entries
	if entries == nil {
		entries = map[string]string{}
	}
	return api.ConfigSet{
		App: v.App, Env: v.Env, Version: v.Version, Entries: entries, Files: v.Files,
		Author: v.Author, Comment: v.Comment, RollbackOf: v.RollbackOf, CreatedAt: v.CreatedAt,
	}
}

// latestConfig is the newest version, or an empty version 0.
func latestConfig(ctx context.Context, st store.ConfigSets, app, env string) (store.ConfigVersion, error) {
	v, err := st.LatestConfigVersion(ctx, app, env)
	if errors.Is(err, store.ErrNotFound) {
		return store.ConfigVersion{App: app, Env: env}, nil
	}
	if err != nil {
		return store.ConfigVersion{}, fmt.Errorf("config of %s/%s: %w", app, env, err)
	}
	return v, nil
}

// configVersion reads version n (0: the empty set before version 1).
func configVersion(ctx context.Context, st store.ConfigSets, app, env string, n int, field string) (store.ConfigVersion, error) {
	if n == 0 {
		return store.ConfigVersion{App: app, Env: env}, nil
	}
	v, err := st.GetConfigVersion(ctx, app, env, n)
	if errors.Is(err, store.ErrNotFound) {
		return store.ConfigVersion{}, notFound("%s: version %d of the %s config of app %q not found", field, n, env, app)
	}
	if err != nil {
		return store.ConfigVersion{}, fmt.Errorf("config %s/%s/%d: %w", app, env, n, err)
	}
	return v, nil
}

// versionQuery reads an optional version parameter (absent: -1).
func versionQuery(r *http.Request, field string) (int, error) {
	v := r.URL.Query().Get(field)
	if v == "" {
		return -1, nil
	}
	n, err := positiveInt(field, v)
	if err != nil && v == "0" {
		return 0, nil
	}
	return n, err
}

func (s *server) getConfig(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	env, err := configEnvParam(r)
	if err != nil {
		return err
	}
	n, err := versionQuery(r, "version")
	if err != nil {
		return err
	}
	if _, err := s.loadApp(r.Context(), s.Store, name, rbac.ConfigRead); err != nil {
		return err
	}
	var v store.ConfigVersion
	if n < 0 {
		v, err = latestConfig(r.Context(), s.Store, name, env)
	} else {
		v, err = configVersion(r.Context(), s.Store, name, env, n, "version")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIConfig(v))
	return nil
}

func (s *server) configHistory(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	env, err := configEnvParam(r)
	if err != nil {
		return err
	}
	if _, err := s.loadApp(r.Context(), s.Store, name, rbac.ConfigRead); err != nil {
		return err
	}
	vs, err := s.Store.ListConfigVersions(r.Context(), name, env)
	if err != nil {
		return fmt.Errorf("config history of %s/%s: %w", name, env, err)
	}
	out := make([]api.ConfigSetSummary, 0, len(vs))
	for _, v := range vs {
		out = append(out, api.ConfigSetSummary{
			Version: v.Version, Keys: len(v.Entries), Files: len(v.Files), Author: v.Author,
			Comment: v.Comment, RollbackOf: v.RollbackOf, CreatedAt: v.CreatedAt,
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) setConfig(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	var u api.ConfigUpdate
	if err := s.decodeJSON(w, r, &u); err != nil {
		return err
	}
	if err := validateConfigUpdate(&u); err != nil {
		return err
	}
	env, _ := checkConfigEnv("env", u.Env)
	var resp api.ConfigChange
	err = s.inTx(r.Context(), func(tx store.Tx) error {
		resp = api.ConfigChange{}
		a, err := s.loadApp(r.Context(), tx, name, rbac.ConfigWrite)
		if err != nil {
			return err
		}
		if a.Deleting {
			return errAppDeleting
		}
		latest, err := latestConfig(r.Context(), tx, name, env)
		if err != nil {
			return err
		}
		next, err := applyConfigUpdate(latest, u)
		if err != nil {
			return err
		}
		if maps.Equal(next.Entries, latest.Entries) && maps.Equal(next.Files, latest.Files) && latest.Version > 0 {
			c := toAPIConfig(latest)
			resp.Config = &c
			return nil
		}
		next.Version, next.Comment, next.RollbackOf = latest.Version+1, u.Comment, 0
		return s.writeConfigVersion(r.Context(), tx, a, next, &resp)
	})
	return s.finishConfigWrite(w, r, name, resp, err)
}

// applyConfigUpdate is latest with u's changes; unsetting what is not set
// is an error, so a typo does not pass as done.
func applyConfigUpdate(latest store.ConfigVersion, u api.ConfigUpdate) (store.ConfigVersion, error) {
	next := latest
	next.Entries = maps.Clone(latest.Entries)
	if next.Entries == nil {
		next.Entries = map[string]string{}
	}
	next.Files = maps.Clone(latest.Files)
	if next.Files == nil {
		next.Files = map[string]string{}
	}
	var details []api.FieldError
	for i, k := range u.Unset {
		if _, ok := next.Entries[k]; !ok {
			details = append(details, api.FieldError{Field: fmt.Sprintf("unset[%d]", i), Message: fmt.Sprintf("%s is not set in version %d", k, latest.Version)})
		}
		delete(next.Entries, k)
	}
	for i, f := range u.RemoveFiles {
		if _, ok := next.Files[f]; !ok {
			details = append(details, api.FieldError{Field: fmt.Sprintf("remove_files[%d]", i), Message: fmt.Sprintf("%s is not a file of version %d", f, latest.Version)})
		}
		delete(next.Files, f)
	}
	maps.Copy(next.Entries, u.Set)
	maps.Copy(next.Files, u.Files)
	if len(next.Entries) > maxConfigEntries {
		details = append(details, api.FieldError{Field: "set", Message: fmt.Sprintf("the config set would hold %d entries; at most %d", len(next.Entries), maxConfigEntries)})
	}
	if n := envBytes(next.Entries); n > maxConfigEnvBytes {
		details = append(details, api.FieldError{Field: "set", Message: fmt.Sprintf("the config set's entries would take %d bytes of environment; at most %d (use files for large content)", n, maxConfigEnvBytes)})
	}
	if len(next.Files) > maxConfigFiles {
		details = append(details, api.FieldError{Field: "files", Message: fmt.Sprintf("the config set would hold %d files; at most %d", len(next.Files), maxConfigFiles)})
	}
	return next, fieldErrors(details)
}

// envBytes is the room entries take in a process's environment.
func envBytes(entries map[string]string) int {
	n := 0
	for k, v := range entries {
		n += len(k) + len(v) + 2 // '=' and the terminating NUL
	}
	return n
}

// writeConfigVersion appends v (its Version set) and rolls the app when
// its release env is v's.
func (s *server) writeConfigVersion(ctx context.Context, tx store.Tx, a store.App, v store.ConfigVersion, resp *api.ConfigChange) error {
	v.CreatedAt = s.Now().UTC()
	if p, ok := principalFrom(ctx); ok {
		v.Author = p.Subject
	}
	if err := tx.CreateConfigVersion(ctx, v); err != nil {
		return fmt.Errorf("write config %s/%s/%d: %w", v.App, v.Env, v.Version, err)
	}
	c := toAPIConfig(v)
	resp.Config = &c
	if v.Env != release.Env(a) {
		return nil
	}
	rel, err := s.rollConfig(ctx, tx, a, "config")
	resp.Release = rel
	if err != nil || rel == 0 {
		return err
	}
	made, err := tx.GetRelease(ctx, a.Name, rel)
	if err != nil {
		return fmt.Errorf("get release %s/%d: %w", a.Name, rel, err)
	}
	if made.Config != nil {
		resp.ReloadOf = made.Config.ReloadOf
	}
	return nil
}

func (s *server) finishConfigWrite(w http.ResponseWriter, r *http.Request, name string, resp api.ConfigChange, err error) error {
	if errors.Is(err, errAppDeleting) {
		return conflict("app %q is being deleted", name)
	}
	if err != nil {
		return err
	}
	if resp.Config != nil {
		s.loggerFrom(r.Context()).Info("config written", "app", name, "env", resp.Config.Env, "version", resp.Config.Version, "release", resp.Release)
	}
	if resp.Release > 0 {
		s.changed(name)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *server) rollbackConfig(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	var req api.ConfigRollbackRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	env, err := checkConfigEnv("env", req.Env)
	if err != nil {
		return err
	}
	if req.To < 0 {
		return invalidField("to", "%d is not a version (0 for the one before the latest, or 1, 2, ...)", req.To)
	}
	if len(req.Comment) > maxCommentLen {
		return invalidField("comment", "at most %d bytes", maxCommentLen)
	}
	var resp api.ConfigChange
	err = s.inTx(r.Context(), func(tx store.Tx) error {
		resp = api.ConfigChange{}
		a, err := s.loadApp(r.Context(), tx, name, rbac.ConfigWrite)
		if err != nil {
			return err
		}
		if a.Deleting {
			return errAppDeleting
		}
		latest, err := latestConfig(r.Context(), tx, name, env)
		if err != nil {
			return err
		}
		to := req.To
		if to == 0 {
			to = latest.Version - 1
		}
		switch {
		case latest.Version < 2 && req.To == 0:
			return invalidField("to", "the %s config of app %q has %d version(s); there is no earlier one to roll back to", env, name, latest.Version)
		case to == latest.Version:
			return invalidField("to", "version %d is already the latest", to)
		}
		from, err := configVersion(r.Context(), tx, name, env, to, "to")
		if err != nil {
			return err
		}
		next := store.ConfigVersion{
			App: name, Env: env, Version: latest.Version + 1,
			Entries: maps.Clone(from.Entries), Files: maps.Clone(from.Files),
			Comment: req.Comment, RollbackOf: to,
		}
		if next.Comment == "" {
			next.Comment = fmt.Sprintf("rollback to version %d", to)
		}
		return s.writeConfigVersion(r.Context(), tx, a, next, &resp)
	})
	return s.finishConfigWrite(w, r, name, resp, err)
}

func (s *server) diffConfig(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	env, err := configEnvParam(r)
	if err != nil {
		return err
	}
	from, err := versionQuery(r, "from")
	if err != nil {
		return err
	}
	to, err := versionQuery(r, "to")
	if err != nil {
		return err
	}
	if _, err := s.loadApp(r.Context(), s.Store, name, rbac.ConfigRead); err != nil {
		return err
	}
	latest, err := latestConfig(r.Context(), s.Store, name, env)
	if err != nil {
		return err
	}
	if to < 0 {
		to = latest.Version
	}
	if from < 0 {
		from = max(to-1, 0)
	}
	a, err := configVersion(r.Context(), s.Store, name, env, from, "from")
	if err != nil {
		return err
	}
	b, err := configVersion(r.Context(), s.Store, name, env, to, "to")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.ConfigDiff{App: name, Env: env, From: from, To: to, Changes: diffConfigs(a, b)})
	return nil
}

// diffConfigs lists what changed from a to b: entries first, then files,
// each by name.
func diffConfigs(a, b store.ConfigVersion) []api.ConfigDiffEntry {
	out := []api.ConfigDiffEntry{}
	for _, part := range []struct {
		kind     string
		old, new map[string]string
	}{{"entry", a.Entries, b.Entries}, {"file", a.Files, b.Files}} {
		names := slices.Sorted(maps.Keys(part.old))
		for k := range part.new {
			if _, ok := part.old[k]; !ok {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		for _, k := range names {
			ov, inOld := part.old[k]
			nv, inNew := part.new[k]
			switch {
			case !inOld:
				out = append(out, api.ConfigDiffEntry{Kind: part.kind, Name: k, Op: "added", New: nv})
			case !inNew:
				out = append(out, api.ConfigDiffEntry{Kind: part.kind, Name: k, Op: "removed", Old: ov})
			case ov != nv:
				out = append(out, api.ConfigDiffEntry{Kind: part.kind, Name: k, Op: "changed", Old: ov, New: nv})
			}
		}
	}
	return out
}
