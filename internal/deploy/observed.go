package deploy

import (
	"fmt"
	"sort"

	"github.com/berthdev/berth/internal/runtime"
)

// WorkloadID names the workload of one service of one release.
func WorkloadID(app, service string, release int) string {
	return fmt.Sprintf("%s-%s-r%d", app, service, release)
}

// observed is the runtime's workloads of one app, indexed.
type observed struct {
	all   []*runtime.WorkloadStatus
	bySvc map[string][]*runtime.WorkloadStatus // ascending release
}

func observe(list []runtime.WorkloadStatus) observed {
	o := observed{bySvc: make(map[string][]*runtime.WorkloadStatus)}
	for i := range list {
		w := &list[i]
		o.all = append(o.all, w)
		o.bySvc[w.Service] = append(o.bySvc[w.Service], w)
	}
	for _, ws := range o.bySvc {
		sort.Slice(ws, func(i, j int) bool { return ws[i].Release < ws[j].Release })
	}
	sort.Slice(o.all, func(i, j int) bool {
		if o.all[i].Service != o.all[j].Service {
			return o.all[i].Service < o.all[j].Service
		}
		return o.all[i].Release < o.all[j].Release
	})
	return o
}

// at returns the service's workload of release rel, or nil.
func (o observed) at(svc string, rel int) *runtime.WorkloadStatus {
	for _, w := range o.bySvc[svc] {
		if w.Release == rel {
			return w
		}
	}
	return nil
}

// others returns the service's workloads of releases other than rel,
// oldest release first.
func (o observed) others(svc string, rel int) []*runtime.WorkloadStatus {
	var out []*runtime.WorkloadStatus
	for _, w := range o.bySvc[svc] {
		if w.Release != rel {
			out = append(out, w)
		}
	}
	return out
}
