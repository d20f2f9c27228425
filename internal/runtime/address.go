package runtime

import (
	"context"

	"github.com/berthdev/berth/internal/spec"
)

// Addresser is implemented by runtimes whose instances reach the other
// services of their app at an address of the runtime's own, not at the
// server's stable local port for the service (which only the server's
// machine can reach). The Kubernetes runtime answers a Service's DNS name.
type Addresser interface {
	// ServiceAddress returns host:port where instances of app reach its
	// service svc, declared as s in the release whose instances ask.
	// ok is false when the runtime has no address of its own for the
	// app: then the server's stable local port is the address.
	ServiceAddress(ctx context.Context, app, svc string, s spec.Service) (addr string, ok bool, err error)
}
