package deploy

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/berthdev/berth/internal/runtime"
)

// dependencyAddr is the address (host:port) instances of release rel
// reach the app's service dep at: the runtime's own address for it when
// the runtime has one (on a cluster, the DNS name of the service's
// address Service, which a pod can reach and the server's loopback ports
// are not), else the server's stable local port for the service. "" when
// the service has neither yet.
func (p *pass) dependencyAddr(ctx context.Context, rel *release, dep string) (string, error) {
	if a, ok := p.r.rt.(runtime.Addresser); ok {
		if s := rel.service(dep); s != nil {
			key := strconv.Itoa(rel.number()) + "/" + dep
			addr, cached := p.addrs[key]
			if !cached {
				own, ok, err := a.ServiceAddress(ctx, p.app.Name, dep, *s)
				if err != nil {
					return "", fmt.Errorf("deploy: address of %s/%s: %w", p.app.Name, dep, err)
				}
				if !ok {
					own = "" // the runtime has none: the local port below
				}
				if p.addrs == nil {
					p.addrs = map[string]string{}
				}
				p.addrs[key], addr = own, own
			}
			if addr != "" {
				return addr, nil
			}
		}
	}
	port := p.app.Ports[dep]
	if port == 0 {
		return "", nil
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}
