package api

import (
	"fmt"
	"net/http"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/routefeed"
)

// gatewaySnapshot answers the routing table standalone gateways serve:
// the same snapshot the embedded gateway loads. Its JSON is
// api.GatewaySnapshot (gateway.Snapshot has the same shape; a test in
// internal/gatewayd holds the two together). Its revision is read before
// the apps, so watching from it misses no change.
func (s *server) gatewaySnapshot(w http.ResponseWriter, r *http.Request) error {
	// The snapshot holds every team's routes: it is for gateways, which
	// serve them all, so only a platform admin's token may read it.
	if err := s.platformAdmin(r.Context(), rbac.ClustersManage, notFound("no route for %s %s; the routes are listed at /api/v1/openapi.json", r.Method, r.URL.Path)); err != nil {
		return err
	}
	snap, err := routefeed.Compile(r.Context(), s.Store)
	if err != nil {
		return fmt.Errorf("gateway snapshot: %w", err)
	}
	writeJSON(w, http.StatusOK, snap)
	return nil
}
