package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// SecretSealer encrypts a secret's value for its row
// (internal/secretstore.Store). The API never decrypts.
type SecretSealer interface {
	Seal(team, app, name string, value []byte) (envelope, keyID string, err error)
}

func toAPISecret(s store.Secret) api.Secret {
	return api.Secret{App: s.App, Name: s.Name, Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

// secretParam is the {name} path value, checked to be a variable name.
func secretParam(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if msg := varNameProblem(name); msg != "" {
		return "", invalidField("name", "%s", msg)
	}
	return name, nil
}

func (s *server) listSecrets(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	if _, err := s.loadApp(r.Context(), s.Store, name, rbac.SecretsRead); err != nil {
		return err
	}
	rows, err := s.Store.ListSecrets(r.Context(), name)
	if err != nil {
		return fmt.Errorf("list secrets of %s: %w", name, err)
	}
	out := make([]api.Secret, 0, len(rows))
	for _, row := range rows {
		out = append(out, toAPISecret(row))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) setSecret(w http.ResponseWriter, r *http.Request) error {
	app, err := appParam(r)
	if err != nil {
		return err
	}
	name, err := secretParam(r)
	if err != nil {
		return err
	}
	if s.Secrets == nil {
		return newError(http.StatusServiceUnavailable, api.CodeUnavailable, "this server has no master key loaded, so it cannot store secrets")
	}
	var req api.SecretValue
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := checkSecretValue(req.Value); err != nil {
		return err
	}
	status := http.StatusOK
	var resp api.ConfigChange
	err = s.inTx(r.Context(), func(tx store.Tx) error {
		resp, status = api.ConfigChange{}, http.StatusOK
		a, err := s.loadApp(r.Context(), tx, app, rbac.SecretsWrite)
		if err != nil {
			return err
		}
		if a.Deleting {
			return errAppDeleting
		}
		envelope, keyID, err := s.Secrets.Seal(a.Team, app, name, []byte(req.Value))
		if err != nil {
			return fmt.Errorf("seal secret %s/%s: %w", app, name, err)
		}
		now := s.Now().UTC()
		row, err := tx.GetSecret(r.Context(), app, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			row = store.Secret{Team: a.Team, App: app, Name: name, Envelope: envelope, KeyID: keyID, Version: 1, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateSecret(r.Context(), row); err != nil {
				return fmt.Errorf("create secret %s/%s: %w", app, name, err)
			}
			status = http.StatusCreated
		case err != nil:
			return fmt.Errorf("get secret %s/%s: %w", app, name, err)
		default:
			row.Team, row.Envelope, row.KeyID, row.UpdatedAt = a.Team, envelope, keyID, now
			if row.Version, err = tx.UpdateSecret(r.Context(), row); err != nil {
				return fmt.Errorf("update secret %s/%s: %w", app, name, err)
			}
		}
		sec := toAPISecret(row)
		resp.Secret = &sec
		resp.Release, err = s.rollConfig(r.Context(), tx, a, "secret")
		return err
	})
	if errors.Is(err, errAppDeleting) {
		return conflict("app %q is being deleted", app)
	}
	if err != nil {
		return err
	}
	s.loggerFrom(r.Context()).Info("secret set", "app", app, "secret", name, "version", resp.Secret.Version, "release", resp.Release)
	if resp.Release > 0 {
		s.changed(app)
	}
	writeJSON(w, status, resp)
	return nil
}

func (s *server) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	app, err := appParam(r)
	if err != nil {
		return err
	}
	name, err := secretParam(r)
	if err != nil {
		return err
	}
	err = s.inTx(r.Context(), func(tx store.Tx) error {
		a, err := s.loadApp(r.Context(), tx, app, rbac.SecretsWrite)
		if err != nil {
			return err
		}
		if _, err := tx.GetSecret(r.Context(), app, name); errors.Is(err, store.ErrNotFound) {
			return notFound("secret %s of app %q not found", name, app)
		} else if err != nil {
			return fmt.Errorf("get secret %s/%s: %w", app, name, err)
		}
		// A secret that a release with instances (the target, the one
		// still serving while the target rolls out or has failed, a
		// canary) names stays: removing it would fail the next instance
		// start of that release. Remove the name from berth.yaml and apply
		// first.
		for _, n := range releasesInUse(a) {
			rel, err := tx.GetRelease(r.Context(), app, n)
			if err != nil {
				return fmt.Errorf("get release %s/%d: %w", app, n, err)
			}
			sp, err := release.SpecOf(rel)
			if err != nil {
				return err
			}
			var users []string
			for svcName, svc := range sp.Services {
				if svc != nil && slices.Contains(svc.Secrets, name) {
					users = append(users, svcName)
				}
			}
			if len(users) > 0 {
				slices.Sort(users)
				return conflict("secret %s is used by service %s of release %d; remove it from their secrets in berth.yaml and apply first",
					name, strings.Join(users, ", "), rel.Number)
			}
		}
		if err := tx.DeleteSecret(r.Context(), app, name); err != nil {
			return fmt.Errorf("delete secret %s/%s: %w", app, name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.loggerFrom(r.Context()).Info("secret removed", "app", app, "secret", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// releasesInUse are the releases of a that may start instances: the
// target, the serving one and a canary, each once.
func releasesInUse(a store.App) []int {
	var out []int
	add := func(n int) {
		if n > 0 && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	add(a.TargetRelease)
	add(a.Status.Serving)
	if a.Canary != nil {
		add(a.Canary.Release)
	}
	return out
}
