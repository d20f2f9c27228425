package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

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
	p, ok := principalFrom(ctx)
	if !ok {
		return notFoundErr
	}
	err := rbac.Authorize(p, team, perm)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rbac.ErrNotFound):
		return notFoundErr
	case errors.Is(err, rbac.ErrForbidden):
		return forbidden("this needs the %s permission, which your role or token scope lacks", perm)
	default:
		return fmt.Errorf("authorize %s: %w", perm, err)
	}
}

func forbidden(format string, args ...any) *httpError {
	return newError(http.StatusForbidden, api.CodeForbidden, format, args...)
}
