// Package secretstore keeps apps' secrets encrypted in the store and hands
// their values out to the two places allowed to see them: the reconciler,
// when it builds an instance's environment, and the pipeline runner, for
// the steps that name them. The API only seals new values and lists names.
package secretstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/store"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrUnknown means a secret that was asked for is not set.
	ErrUnknown = errors.New("secret not set")
	// ErrNoApp means the app does not exist (or belongs to another team).
	ErrNoApp = errors.New("app not found")
)

// noTeam stands for the team of apps created before teams existed: a
// binding needs a non-empty team, and "-" is not a valid team ID.
const noTeam = "-"

// Binding is the row a secret of app is sealed for: the app's team, the
// object "app/<name>" and the secret's name.
func Binding(team, app, name string) secrets.Binding {
	if team == "" {
		team = noTeam
	}
	return secrets.Binding{Team: team, Object: "app/" + app, Name: name}
}

// Store seals and opens the secrets of apps.
type Store struct {
	st   store.Store
	ring *secrets.Keyring
}

// New returns a Store over st that seals with ring's primary key.
func New(st store.Store, ring *secrets.Keyring) *Store {
	return &Store{st: st, ring: ring}
}

// Seal encrypts value for the secret name of app (owned by team).
func (s *Store) Seal(team, app, name string, value []byte) (envelope, keyID string, err error) {
	env, err := s.ring.Seal(Binding(team, app, name), value)
	if err != nil {
		return "", "", err
	}
	return env, s.ring.PrimaryID(), nil
}

// Resolve returns the values of the named secrets of app, which must
// belong to team. A name that is not set is an error naming it (all of
// them, sorted). This is what the runtime's workloads and pipeline steps
// receive; nothing else sees a value.
func (s *Store) Resolve(ctx context.Context, team, app string, names []string) (map[string]string, error) {
	a, err := s.st.GetApp(ctx, app)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.Team != team) {
		return nil, fmt.Errorf("secrets of app %q: %w", app, ErrNoApp)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets of app %q: %w", app, err)
	}
	if len(names) == 0 {
		return map[string]string{}, nil
	}
	rows, err := s.st.ListSecrets(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("secrets of app %q: %w", app, err)
	}
	byName := make(map[string]store.Secret, len(rows))
	for _, r := range rows {
		byName[r.Name] = r
	}
	out := make(map[string]string, len(names))
	var missing []string
	for _, n := range names {
		row, ok := byName[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		v, err := s.open(a.Team, row)
		if err != nil {
			return nil, err
		}
		out[n] = v
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("app %q: %w: %s (set it with: berth secret set %s %s)",
			app, ErrUnknown, strings.Join(missing, ", "), app, missing[0])
	}
	return out, nil
}

// Values returns every secret value of app, to mask them in what the
// server shows of the app's output. A secret that does not open is named
// in the error, and the values that open are returned all the same: one
// unreadable secret must not unmask the others.
func (s *Store) Values(ctx context.Context, app string) ([]string, error) {
	a, err := s.st.GetApp(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("secrets of app %q: %w", app, err)
	}
	rows, err := s.st.ListSecrets(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("secrets of app %q: %w", app, err)
	}
	out := make([]string, 0, len(rows))
	var errs []error
	for _, r := range rows {
		v, err := s.open(a.Team, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, v)
	}
	return out, errors.Join(errs...)
}

// Masker masks every secret value of app that opens; the error names those
// that do not.
func (s *Store) Masker(ctx context.Context, app string) (*secrets.Masker, error) {
	vals, err := s.Values(ctx, app)
	return secrets.NewMasker(vals...), err
}

// open decrypts row for the app's current team. When the app changed
// teams since the value was set, the binding no longer matches: say so.
func (s *Store) open(team string, row store.Secret) (string, error) {
	pt, err := s.ring.Open(Binding(team, row.App, row.Name), row.Envelope)
	if err != nil {
		if errors.Is(err, secrets.ErrDecrypt) && row.Team != team {
			return "", fmt.Errorf("secret %s of app %q was set for team %q, the app now belongs to %q: set it again: %w",
				row.Name, row.App, row.Team, team, err)
		}
		return "", fmt.Errorf("secret %s of app %q: %w", row.Name, row.App, err)
	}
	defer clear(pt)
	return string(pt), nil
}
