package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
)

// appNameRE is a DNS label: app names become host names and resource names.
var appNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// appParam returns the {app} path value, checked to be a DNS label.
func appParam(r *http.Request) (string, error) {
	name := r.PathValue("app")
	if !appNameRE.MatchString(name) {
		return "", invalidField("app", "%q is not an app name (lower-case letters, digits and '-', 1 to 63 characters, starting and ending with a letter or digit)", name)
	}
	return name, nil
}

// positiveInt parses a release number given as a parameter named field.
func positiveInt(field, value string) (int, error) {
	if value == "" {
		return 0, invalidField(field, "required: a release number (1, 2, ...)")
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < 1 {
		return 0, invalidField(field, "%q is not a release number (1, 2, ...)", value)
	}
	return n, nil
}

// loadApp reads an app the caller may use perm on. An unknown app and an
// app of a team the caller is not in answer the same 404.
func (s *server) loadApp(ctx context.Context, st store.Apps, name string, perm rbac.Permission) (store.App, error) {
	setAuditObject(ctx, "app/"+name)
	missing := notFound("app %q not found", name)
	a, err := st.GetApp(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.App{}, missing
	}
	if err != nil {
		return store.App{}, fmt.Errorf("get app %s: %w", name, err)
	}
	if err := s.authorize(ctx, a.Team, perm, missing); err != nil {
		return store.App{}, err
	}
	return a, nil
}

// loadRelease reads a release, answering 404 for an unknown one.
func loadRelease(ctx context.Context, st store.Releases, app string, n int) (store.Release, error) {
	rel, err := st.GetRelease(ctx, app, n)
	if errors.Is(err, store.ErrNotFound) {
		return store.Release{}, notFound("release %d of app %q not found", n, app)
	}
	if err != nil {
		return store.Release{}, fmt.Errorf("get release %s/%d: %w", app, n, err)
	}
	return rel, nil
}
