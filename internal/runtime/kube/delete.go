package kube

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Delete removes the workload's Deployment (waiting until its pods are
// gone: foreground deletion lets each stop within its grace period), then
// its Service, ConfigMap, Secret and PodDisruptionBudget, and the address
// Service of its service when no other workload of it is left. Volume claims
// stay: they belong to the service and hold data. Only objects labelled
// as Berth's are deleted; an unknown workload is not an error.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	if r.closed() {
		return ErrClosed
	}
	unlock := r.wlocks.lock(id)
	defer unlock()
	r.mu.Lock()
	gone, had := r.desired[id]
	delete(r.desired, id)
	r.deleting[id] = true
	r.mu.Unlock()

	ns, name := r.opts.Namespace, objectName(id)
	fg := metav1.DeletePropagationForeground
	if d, err := r.deployment(id); err == nil {
		err := r.client.AppsV1().Deployments(ns).Delete(ctx, name, metav1.DeleteOptions{
			PropagationPolicy: &fg,
			Preconditions:     &metav1.Preconditions{UID: &d.UID},
		})
		if ignoreNotFound(err) != nil {
			return fmt.Errorf("delete workload %s from cluster %s namespace %s: %w", id, r.opts.Cluster, ns, err)
		}
	}
	if err := r.pruneAll(ctx, id); err != nil {
		return fmt.Errorf("delete workload %s from cluster %s namespace %s: %w", id, r.opts.Cluster, ns, err)
	}
	if err := r.waitGone(ctx, id); err != nil {
		return err
	}
	// The last workload of a service takes the service's address with it;
	// otherwise the address follows the newest release left (a canary
	// that was aborted may have declared other ports).
	if had {
		if newest, ok := r.newestWanted(gone.App, gone.Service); ok {
			if err := r.writeAddress(ctx, newest); err != nil {
				return fmt.Errorf("delete workload %s from cluster %s namespace %s: %w", id, r.opts.Cluster, ns, err)
			}
		}
	}
	if err := r.pruneAddresses(ctx); err != nil {
		return fmt.Errorf("delete workload %s from cluster %s namespace %s: %w", id, r.opts.Cluster, ns, err)
	}
	return nil
}

// pruneAll deletes the workload's other objects.
func (r *Runtime) pruneAll(ctx context.Context, id string) error {
	ns := r.opts.Namespace
	sel := labels.SelectorFromSet(selectorLabels(id))
	core := r.client.CoreV1()
	svcs, err := r.services.Services(ns).List(sel)
	if err != nil {
		return err
	}
	for _, s := range svcs {
		if err := ignoreNotFound(core.Services(ns).Delete(ctx, s.Name, metav1.DeleteOptions{})); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	// An object of this workload with no desired counterpart is pruned.
	return r.prune(ctx, &objects{id: id, name: objectName(id)})
}

// waitGone waits until the cache no longer has the Deployment, so Status
// after Delete answers ErrNotFound.
func (r *Runtime) waitGone(ctx context.Context, id string) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := r.deployment(id); err != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("delete workload %s: its Deployment is still there: %w", id, ctx.Err())
		case <-r.ctx.Done():
			return ErrClosed
		case <-t.C:
		}
	}
}
