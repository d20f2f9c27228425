package kube

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/berthdev/berth/internal/runtime"
)

// watchBuffer is how many events a slow watcher may lag behind before
// events are dropped for it; events are hints (watchers call Status), so
// a dropped one costs nothing a later one does not repair.
const watchBuffer = 256

// Watch sends an event whenever an object of a workload changes, until
// ctx ends or the runtime is closed; then the channel is closed.
func (r *Runtime) Watch(ctx context.Context) (<-chan runtime.Event, error) {
	if r.closed() {
		return nil, ErrClosed
	}
	ch := make(chan runtime.Event, watchBuffer)
	r.mu.Lock()
	r.watchers[ch] = struct{}{}
	r.mu.Unlock()
	r.wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-r.ctx.Done():
		}
		r.mu.Lock()
		delete(r.watchers, ch)
		close(ch)
		r.mu.Unlock()
	})
	return ch, nil
}

func (r *Runtime) notify(e runtime.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch := range r.watchers {
		select {
		case ch <- e:
		default:
		}
	}
}

// handler feeds watchers and drift repair from every informer.
func (r *Runtime) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			r.changed(obj, false)
			r.needsRank(obj)
		},
		UpdateFunc: func(oldObj, newObj any) {
			r.changed(newObj, false)
			r.needsRank(newObj)
			if drifted(oldObj, newObj) {
				r.maybeRepair(newObj)
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			r.changed(obj, true)
			switch obj.(type) {
			case *corev1.Pod, *discoveryv1.EndpointSlice: // not Berth's objects
			default:
				r.maybeRepair(obj)
			}
		},
	}
}

func (r *Runtime) changed(obj any, deleted bool) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	id := m.GetAnnotations()[AnnotationWorkloadID]
	if es, ok := obj.(*discoveryv1.EndpointSlice); ok {
		id = r.sliceWorkload(es)
	}
	if id == "" {
		return
	}
	e := runtime.Event{Type: runtime.EventChanged, WorkloadID: id, App: m.GetLabels()[LabelPartOf]}
	if _, isDeployment := obj.(*appsv1.Deployment); isDeployment && deleted {
		e.Type = runtime.EventDeleted
	}
	r.mu.Lock()
	if w, ok := r.desired[id]; ok {
		e.App = w.App
	}
	r.mu.Unlock()
	r.notify(e)
}

// drifted says whether an update may have been someone else's edit of
// what Berth declares: a Deployment whose spec changed (its generation
// moved), or any other object of Berth's (they have no status, so every
// change is to what Berth wrote) last written by another manager.
func drifted(oldObj, newObj any) bool {
	o, ok1 := oldObj.(metav1.Object)
	n, ok2 := newObj.(metav1.Object)
	if !ok1 || !ok2 || o.GetResourceVersion() == n.GetResourceVersion() {
		return false
	}
	switch newObj.(type) {
	case *corev1.Pod, *discoveryv1.EndpointSlice:
		return false // written by the kubelet and the endpoint slice controller
	case *appsv1.Deployment:
		return o.GetGeneration() != n.GetGeneration()
	}
	for _, f := range n.GetManagedFields() {
		if f.Manager != FieldManager && f.Subresource == "" {
			return true
		}
	}
	return false
}
