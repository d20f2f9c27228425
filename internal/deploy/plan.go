package deploy

import (
	"fmt"

	"github.com/berthdev/berth/internal/runtime"
)

// step is one change to the runtime: a workload applied with a replica
// count, or deleted.
type step struct {
	release  int
	service  string
	id       string
	replicas int
	del      bool
}

func (s step) String() string {
	if s.del {
		return "delete " + s.id
	}
	return fmt.Sprintf("apply %s x%d", s.id, s.replicas)
}

// plan is what one pass does, and why it holds back.
type plan struct {
	steps []step
	// blocked says, per service, why its new workload is not created yet.
	blocked map[string]string
}

// apply scales workload id, of release rel (which may carry the ID of the
// release whose instances it reloads, see release.instancesOf), to n.
func (p *plan) apply(id string, rel int, svc string, n int) {
	p.steps = append(p.steps, step{release: rel, service: svc, id: id, replicas: n})
}

func (p *plan) remove(w *runtime.WorkloadStatus) {
	p.steps = append(p.steps, step{release: w.Release, service: w.Service, id: w.ID, del: true})
}

// touches reports whether the plan applies or deletes workload id.
func (p *plan) touches(id string) bool {
	for _, s := range p.steps {
		if s.id == id {
			return true
		}
	}
	return false
}

// deleted reports whether the plan deletes workload id.
func (p *plan) deleted(id string) bool {
	for _, s := range p.steps {
		if s.del && s.id == id {
			return true
		}
	}
	return false
}

// depsReady reports whether every dependency of svc runs at release rel
// with all its desired instances ready; if not, it names the first one
// that does not.
func depsReady(rel *release, svc string, obs observed) (string, bool) {
	s := rel.service(svc)
	if s == nil {
		return "", true
	}
	for _, dep := range s.DependsOn {
		want := rel.replicas(dep)
		if want == 0 {
			continue
		}
		if w := obs.at(dep, rel.number()); w == nil || w.Ready < want {
			return dep, false
		}
	}
	return "", true
}

// serviceDone reports whether svc has finished rolling out to rel: its new
// workload runs every desired instance, ready, and no other release of it
// is left.
func serviceDone(rel *release, svc string, obs observed) bool {
	want := rel.replicas(svc)
	if len(obs.others(svc, rel.number())) > 0 {
		return false
	}
	w := obs.at(svc, rel.number())
	if want == 0 {
		return w == nil
	}
	return w != nil && w.Replicas == want && w.Ready >= want
}

// strays are workloads of services the release does not have.
func strays(rel *release, obs observed) []*runtime.WorkloadStatus {
	var out []*runtime.WorkloadStatus
	for _, w := range obs.all {
		if rel.service(w.Service) == nil {
			out = append(out, w)
		}
	}
	return out
}

// rolledOut reports whether the app runs exactly rel, fully ready.
func rolledOut(rel *release, obs observed) bool {
	for _, svc := range rel.order {
		if !serviceDone(rel, svc, obs) {
			return false
		}
	}
	return len(strays(rel, obs)) == 0
}

// planRolling replaces old instances with new ones per service, never
// running fewer than desired ready instances (counting old ones) and at most
// desired+maxSurge in total:
//
//	allowedOld  = max(0, desired - newReady)      old instances still needed
//	scale old down to allowedOld, unready capacity first, then oldest
//	release first, deleting at 0
//	newReplicas = max(current, min(desired, desired + maxSurge - oldTotal))
//
// A service's new workload is created only once its dependencies run the
// new release fully ready, so dependents start against the new versions.
func planRolling(app string, rel *release, obs observed) plan {
	p := plan{blocked: map[string]string{}}
	surge := rel.strategy().MaxSurge
	num := rel.number()
	for _, svc := range rel.order {
		desired := rel.replicas(svc)
		cur := obs.at(svc, num)
		olds := obs.others(svc, num)
		if desired == 0 {
			if cur != nil {
				p.remove(cur)
			}
			for _, o := range olds {
				p.remove(o)
			}
			continue
		}
		if cur == nil {
			if dep, ok := depsReady(rel, svc, obs); !ok {
				p.blocked[svc] = dep
				continue
			}
		}
		newReady, current := 0, 0
		if cur != nil {
			newReady, current = cur.Ready, cur.Replicas
		}
		allowedOld := max(0, desired-newReady)
		oldTotal := 0
		for _, o := range olds {
			oldTotal += o.Replicas
		}
		// Capacity that serves nothing goes first (an unfinished earlier
		// rollout), then ready instances, oldest release first.
		excess := max(0, oldTotal-allowedOld)
		cuts := make([]int, len(olds))
		for i, o := range olds {
			c := min(excess, max(0, o.Replicas-o.Ready))
			cuts[i], excess = c, excess-c
		}
		for i, o := range olds {
			c := min(excess, o.Replicas-cuts[i])
			cuts[i], excess = cuts[i]+c, excess-c
		}
		for i, o := range olds {
			oldTotal -= cuts[i]
			switch n := o.Replicas - cuts[i]; {
			case n == 0:
				p.remove(o)
			case cuts[i] > 0:
				p.apply(o.ID, o.Release, svc, n)
			}
		}
		want := min(desired, max(current, min(desired, desired+surge-oldTotal)))
		if cur == nil || cur.Replicas != want {
			p.apply(rel.workloadID(app, svc), num, svc, want)
		}
	}
	// Services the new release dropped go last, once the rest is done, in
	// case old instances of other services still call them.
	if len(p.steps) == 0 && len(p.blocked) == 0 {
		for _, w := range strays(rel, obs) {
			p.remove(w)
		}
	}
	return p
}

// planRecreate stops every old instance first, waits until the runtime no
// longer lists them, then starts the new release, dependencies first.
func planRecreate(app string, rel *release, obs observed) plan {
	p := plan{blocked: map[string]string{}}
	var olds []*runtime.WorkloadStatus
	for _, w := range obs.all {
		if w.Release != rel.number() || rel.service(w.Service) == nil {
			olds = append(olds, w)
		}
	}
	if len(olds) > 0 {
		for _, w := range olds {
			p.remove(w)
		}
		return p
	}
	planNew(app, rel, obs, &p)
	return p
}

// planExact makes the app run rel at full replicas at once and removes
// everything else: the steady state, and the way back to the serving release
// after a failed rollout. rel nil removes every workload.
func planExact(app string, rel *release, obs observed) plan {
	p := plan{blocked: map[string]string{}}
	// By ID, not release: a release that reloads another's instances runs
	// them under their ID (see release.instancesOf).
	for _, w := range obs.all {
		if rel == nil || w.ID != rel.workloadID(app, w.Service) || rel.service(w.Service) == nil {
			p.remove(w)
		}
	}
	if rel != nil {
		planNew(app, rel, obs, &p)
	}
	return p
}

// planNew brings each service's workload of rel to its desired replicas.
func planNew(app string, rel *release, obs observed, p *plan) {
	for _, svc := range rel.order {
		desired := rel.replicas(svc)
		cur := obs.at(svc, rel.number())
		switch {
		case desired == 0:
			if cur != nil {
				p.remove(cur)
			}
		case cur == nil:
			if dep, ok := depsReady(rel, svc, obs); !ok {
				p.blocked[svc] = dep
				continue
			}
			p.apply(rel.workloadID(app, svc), rel.number(), svc, desired)
		case cur.Replicas != desired:
			p.apply(rel.workloadID(app, svc), rel.number(), svc, desired)
		}
	}
}
