package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/pkg/api"
)

// workload builds the runtime workload of one service of a release. It is a
// function of the release, the app's ports and the runtime's addresses
// (which depend on the app's environment only), so rebuilding it to
// change the replica count of an old release changes nothing else (the
// runtime would otherwise restart its instances). Its secrets too: they
// are the versions the release recorded, not the current values.
func (p *pass) workload(ctx context.Context, relNum int, svc string, replicas int) (runtime.Workload, error) {
	rel := p.releases[relNum]
	s := rel.service(svc)
	if s == nil {
		return runtime.Workload{}, fmt.Errorf("workload %s: release %d or its service is not readable", WorkloadID(p.app.Name, svc, relNum), relNum)
	}
	cfg, err := p.configOf(ctx, rel)
	if err != nil {
		return runtime.Workload{}, err
	}
	// Config entries first: Berth's own variables win over them.
	env := maps.Clone(cfg.Entries)
	if env == nil {
		env = map[string]string{}
	}
	env[spec.EnvApp] = p.app.Name
	env[spec.EnvService] = svc
	// The release that started the instances: a live reload cannot change
	// a running process's environment.
	env[spec.EnvRelease] = strconv.Itoa(rel.instancesOf())
	sec, err := p.secretsOf(ctx, rel, s.Secrets)
	if err != nil {
		return runtime.Workload{}, fmt.Errorf("workload %s: %w", rel.workloadID(p.app.Name, svc), err)
	}
	for _, dep := range s.DependsOn {
		addr, err := p.dependencyAddr(ctx, rel, dep)
		if err != nil {
			return runtime.Workload{}, fmt.Errorf("workload %s: %w", rel.workloadID(p.app.Name, svc), err)
		}
		if addr == "" {
			continue
		}
		urlKey, addrKey := spec.DependencyEnv(dep)
		env[urlKey] = "http://" + addr
		env[addrKey] = addr
	}
	var vols map[string]string
	if dir := p.r.opts.VolumeDir; dir != "" && len(s.Volumes) > 0 {
		vols = make(map[string]string, len(s.Volumes))
		for _, v := range s.Volumes {
			vols[v.Name] = filepath.Join(dir, p.app.Name, svc, v.Name)
		}
	}
	instancesOf := 0
	if rel.reloads() {
		instancesOf = rel.instancesOf()
	}
	return runtime.Workload{
		InstancesOf: instancesOf,
		ID:          rel.workloadID(p.app.Name, svc),
		App:         p.app.Name,
		Service:     svc,
		Release:     relNum,
		Replicas:    replicas,
		Spec:        *s,
		Dir:         rel.rec.Artifacts[svc].Dir,
		Env:         env,
		Volumes:     vols,
		Files:       cfg.Files,
		Secrets:     sec,
	}, nil
}

// setProxy points each service's stable address at its ready instances, of
// any release, except those of workloads being deleted, of failed releases,
// and those the runtime is about to stop to scale a workload down. A
// service whose port another process holds gets a new one (moved).
func (p *pass) setProxy(ctx context.Context, eff *release, obs observed, pl plan) (moved bool, err error) {
	if p.r.opts.Proxy == nil {
		return false, nil
	}
	names := map[string]bool{}
	for _, svc := range eff.serviceNames() {
		names[svc] = true
	}
	for svc := range obs.bySvc {
		names[svc] = true
	}
	scaled := map[string]int{}
	for _, s := range pl.steps {
		if !s.del {
			scaled[s.id] = s.replicas
		}
	}
	sorted := make([]string, 0, len(names))
	for svc := range names {
		sorted = append(sorted, svc)
	}
	sort.Strings(sorted)
	for _, svc := range sorted {
		port := p.app.Ports[svc]
		if port == 0 {
			continue
		}
		var eps []string
		for _, w := range obs.bySvc[svc] {
			if pl.deleted(w.ID) || p.failed(w.Release) {
				continue
			}
			limit, scaling := scaled[w.ID]
			for _, inst := range w.Instances {
				if !inst.Ready || inst.Port == 0 || (scaling && inst.Index >= limit) {
					continue
				}
				host := inst.Host
				if host == "" {
					host = "127.0.0.1"
				}
				eps = append(eps, net.JoinHostPort(host, strconv.Itoa(inst.Port)))
			}
		}
		sort.Strings(eps)
		err := p.r.opts.Proxy.Set(p.app.Name, svc, port, eps)
		if errors.Is(err, syscall.EADDRINUSE) {
			if err := p.movePort(ctx, svc, eps); err != nil {
				return moved, err
			}
			moved = true
			continue
		}
		if err != nil {
			p.log.Warn("service address not set", "service", svc, "port", port, "err", err)
		}
	}
	return moved, nil
}

func (p *pass) failed(relNum int) bool {
	rel := p.releases[relNum]
	return rel != nil && rel.rec.State == api.ReleaseFailed
}
