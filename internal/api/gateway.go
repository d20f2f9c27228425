package api

import (
	"fmt"
	"net/http"

	"github.com/berthdev/berth/internal/identity/rbac"
)

// gatewaySnapshot answers the routing table standalone gateways serve:
// the same snapshot the embedded gateway loads. Its JSON is
// api.GatewaySnapshot (gateway.Snapshot has the same shape; a test in
// internal/gatewayd holds the two together). Its revision is read before
// the apps, so watching from it misses no change.
//
// ?env=NAME answers the snapshot of one environment's apps, for the
// gateway Berth runs in that environment's cluster; its token (and a
// platform admin's) may read it, no other.
func (s *server) gatewaySnapshot(w http.ResponseWriter, r *http.Request) error {
	missing := notFound("no route for %s %s; the routes are listed at /api/v1/openapi.json", r.Method, r.URL.Path)
	env := r.URL.Query().Get("env")
	if env != "" && !appNameRE.MatchString(env) {
		return invalidField("env", "%q is not an environment name (lower-case letters, digits and '-', 1 to 63 characters)", env)
	}
	p, _ := principalFrom(r.Context())
	switch {
	case env != "" && p.GatewayEnv == env:
	case p.GatewayEnv != "":
		auditFrom(r.Context()).deny()
		return missing
	default:
		// The snapshot holds every team's routes: it is for gateways,
		// which serve them all, so only a platform admin's token may
		// read it.
		if err := s.platformAdmin(r.Context(), rbac.ClustersManage, missing); err != nil {
			return err
		}
	}
	// The feed compiles only the apps changed since the last fetch, and
	// keeps each environment's snapshot until one of its apps changes.
	snap, err := s.Routes.Snapshot(r.Context(), env)
	if err != nil {
		return fmt.Errorf("gateway snapshot: %w", err)
	}
	writeJSON(w, http.StatusOK, snap)
	return nil
}
