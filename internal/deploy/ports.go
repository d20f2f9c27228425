package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"syscall"

	"github.com/berthdev/berth/internal/spec"
)

// Stable service ports.
//
// Each service gets a local port once, stored with the app; the proxy
// listens there and dependents are started with its address in their
// environment (<DEP>_URL, <DEP>_ADDR), as is the gateway's route. Nothing
// holds a port while no server runs, so another process may take it while
// the server is down (or between allocation and listen). Leaving it there
// would send the service's callers, and the gateway's traffic, to that
// process. So a service whose port is taken gets a new one, stored at
// once; the gateway follows the app record, and every workload that was
// started with the old address in its environment is applied again
// (refreshEnv), which restarts its instances: an address in a process's
// environment cannot be changed under it. Those instances restart all at
// once, a short outage of the dependents that is the price of not talking
// to a stranger.

// ensurePorts gives every service of rel a stable local port, once.
func (p *pass) ensurePorts(ctx context.Context, rel *release) error {
	var missing []string
	for _, svc := range rel.serviceNames() {
		if p.app.Ports[svc] == 0 {
			missing = append(missing, svc)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	used, err := p.takenPorts(ctx)
	if err != nil {
		return err
	}
	ports := maps.Clone(p.app.Ports)
	if ports == nil {
		ports = make(map[string]int, len(missing))
	}
	for _, svc := range missing {
		port, err := p.allocPort(svc, used)
		if err != nil {
			return err
		}
		ports[svc] = port
		used[port] = true
	}
	return p.savePorts(ctx, ports)
}

// movePort gives svc a new port because another process holds its own,
// and points it at eps.
func (p *pass) movePort(ctx context.Context, svc string, eps []string) error {
	old := p.app.Ports[svc]
	used, err := p.takenPorts(ctx)
	if err != nil {
		return err
	}
	for range 5 {
		port, err := p.allocPort(svc, used)
		if err != nil {
			return err
		}
		used[port] = true
		err = p.r.opts.Proxy.Set(p.app.Name, svc, port, eps)
		if errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		if err != nil {
			return fmt.Errorf("deploy: move the address of %s/%s: %w", p.app.Name, svc, err)
		}
		p.log.Warn("service port is held by another process; the service moved to a new port and its dependents restart with the new address",
			"service", svc, "old_port", old, "port", port)
		ports := maps.Clone(p.app.Ports)
		ports[svc] = port
		return p.savePorts(ctx, ports)
	}
	return fmt.Errorf("deploy: move the address of %s/%s: every new port was taken too", p.app.Name, svc)
}

// takenPorts is every port stored for any app: a port that is free now may
// belong to an app whose address is not open yet (a server starting).
func (p *pass) takenPorts(ctx context.Context) (map[int]bool, error) {
	apps, err := p.r.store.ListApps(ctx)
	if err != nil {
		return nil, fmt.Errorf("deploy: list apps: %w", err)
	}
	used := map[int]bool{}
	for _, a := range append(apps, p.app) {
		for _, port := range a.Ports {
			used[port] = true
		}
	}
	return used, nil
}

// allocPort returns a free port not in used.
func (p *pass) allocPort(svc string, used map[int]bool) (int, error) {
	// AllocPort may hand out the same port twice in a row (nothing holds
	// it in between), or one another app stored.
	for range 20 {
		n, err := p.r.opts.AllocPort()
		if err != nil {
			return 0, fmt.Errorf("deploy: allocate a port for %s/%s: %w", p.app.Name, svc, err)
		}
		if !used[n] {
			return n, nil
		}
	}
	return 0, fmt.Errorf("deploy: allocate a port for %s/%s: no unused port found", p.app.Name, svc)
}

func (p *pass) savePorts(ctx context.Context, ports map[string]int) error {
	a := p.app
	a.Ports = ports
	a.UpdatedAt = p.now
	v, err := p.r.store.UpdateApp(ctx, a)
	if err != nil {
		return fmt.Errorf("deploy: save ports of %s: %w", p.app.Name, err)
	}
	a.Version = v
	p.app = a
	return nil
}

// refreshEnv applies again, at their current size, the workloads started
// with a dependency address that is no longer the dependency's (a moved
// port; on a cluster, workloads started before dependencies had cluster
// addresses there), so
// their instances restart with the right one. Workloads the plan applies or
// deletes anyway are left to it.
func (p *pass) refreshEnv(ctx context.Context, pl *plan, obs observed) {
	for _, w := range obs.all {
		if w.Env == nil || w.Replicas == 0 || pl.touches(w.ID) {
			continue
		}
		rel := p.releases[w.Release]
		s := rel.service(w.Service)
		if s == nil {
			continue
		}
		for _, dep := range s.DependsOn {
			addr, err := p.dependencyAddr(ctx, rel, dep)
			if err != nil {
				p.log.Warn("dependency address not known; the workload's is left as it is", "workload", w.ID, "dependency", dep, "err", err)
				break
			}
			if addr == "" {
				continue
			}
			urlKey, addrKey := spec.DependencyEnv(dep)
			if w.Env[addrKey] != addr || w.Env[urlKey] != "http://"+addr {
				p.log.Info("restarting a workload for a dependency's new address", "workload", w.ID, "dependency", dep, "address", addr)
				pl.apply(w.ID, w.Release, w.Service, w.Replicas)
				break
			}
		}
	}
}
