package envroute

import (
	"context"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

var _ runtime.Addresser = (*Router)(nil)

// ServiceAddress asks the runtime of app's environment; a runtime with no
// addresses of its own (the local one) answers ok false.
func (r *Router) ServiceAddress(ctx context.Context, app, svc string, s spec.Service) (string, bool, error) {
	rt, _, err := r.forApp(ctx, app)
	if err != nil {
		return "", false, err
	}
	a, ok := rt.(runtime.Addresser)
	if !ok {
		return "", false, nil
	}
	return a.ServiceAddress(ctx, app, svc, s)
}
