package secretstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/berthdev/berth/internal/store"
)

// A release records the version of each secret its services name, and
// its instances get those values, whatever the secret holds now: a new
// instance of the release still serving while a newer one fails its
// health check gets the old value, not the one that broke the newer
// release. Every set keeps its value (store.SecretVersion), so this holds
// until the secret is removed.

// ResolveVersions returns the values of the named secrets of app (owned
// by team) at the versions a release recorded:
//
//   - versions nil (a release from before versions were recorded): the
//     current values, as Resolve.
//   - version n > 0: version n. If it is not kept but the secret is at a
//     later version, it was set before versions were kept (an upgraded
//     data directory) and the current value stands in for it, as it did
//     then.
//   - version 0 (the secret was not set when the release was made): not
//     set is ErrUnknown; once set, version 1, the first value set after
//     the release was made, so every instance of the release gets the
//     same value however often the secret changes.
//
// A name whose version is gone (the secret was removed, or removed and set
// again) is ErrUnknown, named in the error like Resolve's.
func (s *Store) ResolveVersions(ctx context.Context, team, app string, names []string, versions map[string]int64) (map[string]string, error) {
	if versions == nil {
		return s.Resolve(ctx, team, app, names)
	}
	a, err := s.st.GetApp(ctx, app)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.Team != team) {
		return nil, fmt.Errorf("secrets of app %q: %w", app, ErrNoApp)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets of app %q: %w", app, err)
	}
	out := make(map[string]string, len(names))
	var missing []string
	for _, n := range names {
		want := max(versions[n], 1)
		row, err := s.versionOf(ctx, app, n, want)
		if errors.Is(err, store.ErrNotFound) {
			missing = append(missing, fmt.Sprintf("%s (version %d)", n, want))
			continue
		}
		if err != nil {
			return nil, err
		}
		v, err := s.open(a.Team, row)
		if err != nil {
			return nil, fmt.Errorf("version %d: %w", want, err)
		}
		out[n] = v
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		first, _, _ := strings.Cut(missing[0], " ")
		return nil, fmt.Errorf("app %q: %w: %s (set it with: berth secret set %s %s, which makes a new release)",
			app, ErrUnknown, strings.Join(missing, ", "), app, first)
	}
	return out, nil
}

// versionOf is version n of a secret as a row to open; ErrNotFound when
// neither it nor a later current value (see ResolveVersions) exists.
func (s *Store) versionOf(ctx context.Context, app, name string, n int64) (store.Secret, error) {
	v, err := s.st.GetSecretVersion(ctx, app, name, n)
	if err == nil {
		return store.Secret{Team: v.Team, App: v.App, Name: v.Name, Envelope: v.Envelope, KeyID: v.KeyID, Version: v.Version}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.Secret{}, fmt.Errorf("secret %s of app %q: %w", name, app, err)
	}
	cur, err := s.st.GetSecret(ctx, app, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && cur.Version <= n) {
		return store.Secret{}, fmt.Errorf("version %d of secret %s of app %q: %w", n, name, app, store.ErrNotFound)
	}
	if err != nil {
		return store.Secret{}, fmt.Errorf("secret %s of app %q: %w", name, app, err)
	}
	return cur, nil
}

// ValuesWith returns every current secret value of app and those of the
// given versions (name -> versions), to mask: the instances of a release
// made before a secret changed still hold its earlier value. Versions 0
// and versions not kept add nothing. Like Values, it returns what opens
// and names in the error what does not.
func (s *Store) ValuesWith(ctx context.Context, app string, versions map[string][]int64) ([]string, error) {
	out, err := s.Values(ctx, app)
	if len(versions) == 0 {
		return out, err
	}
	errs := []error{err}
	a, gerr := s.st.GetApp(ctx, app)
	if gerr != nil {
		return out, errors.Join(err, fmt.Errorf("secrets of app %q: %w", app, gerr))
	}
	rows, lerr := s.st.ListSecretVersions(ctx, app)
	if lerr != nil {
		return out, errors.Join(err, fmt.Errorf("secret versions of app %q: %w", app, lerr))
	}
	for _, r := range rows {
		if !wanted(versions[r.Name], r.Version) {
			continue
		}
		v, err := s.open(a.Team, store.Secret{Team: r.Team, App: r.App, Name: r.Name, Envelope: r.Envelope})
		if err != nil {
			errs = append(errs, fmt.Errorf("version %d: %w", r.Version, err))
			continue
		}
		out = append(out, v)
	}
	return out, errors.Join(errs...)
}

// wanted reports whether version v is among vs, where 0 stands for 1
// (see ResolveVersions).
func wanted(vs []int64, v int64) bool {
	for _, w := range vs {
		if max(w, 1) == v {
			return true
		}
	}
	return false
}
