package kube

import (
	v1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
)

// repairQueue holds the IDs of workloads to re-apply, each once however
// many of its objects changed, with per-workload back-off when the
// re-apply fails.
type repairQueue struct {
	q workqueue.TypedRateLimitingInterface[string]
}

func newRepairQueue() *repairQueue {
	return &repairQueue{q: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
}

func (q *repairQueue) shutdown() { q.q.ShutDown() }

// maybeRepair queues the workload of obj when Berth wants it and is not
// deleting it: the object was deleted or edited behind Berth's back.
func (r *Runtime) maybeRepair(obj any) {
	m, ok := obj.(v1.Object)
	if !ok {
		return
	}
	id := m.GetAnnotations()[AnnotationWorkloadID]
	if id == "" {
		// An address Service is restored by re-applying the newest
		// workload of its service, which writes it.
		if id = r.wantedOf(m); id == "" {
			return
		}
	}
	r.mu.Lock()
	_, want := r.desired[id]
	want = want && !r.deleting[id]
	r.mu.Unlock()
	if want {
		r.repairs.q.Add(id)
	}
}

// repairLoop re-applies queued workloads until Close. Server-side apply
// with force takes back every field Berth declares and recreates what
// was deleted; an unchanged object is not written.
func (r *Runtime) repairLoop() {
	for {
		id, quit := r.repairs.q.Get()
		if quit {
			return
		}
		r.repairOne(id)
		r.repairs.q.Done(id)
	}
}

func (r *Runtime) repairOne(id string) {
	unlock := r.wlocks.lock(id)
	defer unlock()
	r.mu.Lock()
	w, want := r.desired[id]
	want = want && !r.deleting[id]
	r.mu.Unlock()
	if !want {
		r.repairs.q.Forget(id)
		return
	}
	o, err := translate(w, r.opts.Namespace, r.opts.StorageClass)
	if err != nil {
		r.repairs.q.Forget(id)
		return
	}
	if _, err := r.write(r.ctx, w, o); err != nil {
		if r.ctx.Err() == nil {
			r.log.Warn("kube runtime: drift repair failed; retrying", "workload", id, "err", err)
			r.repairs.q.AddRateLimited(id)
		}
		return
	}
	r.repairs.q.Forget(id)
	r.log.Debug("kube runtime: drift repair pass", "workload", id)
}
