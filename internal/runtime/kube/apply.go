package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/berthdev/berth/internal/runtime"
)

var applyOpts = metav1.ApplyOptions{FieldManager: FieldManager, Force: true}

// Apply writes the workload's objects by server-side apply (forcing
// ownership, so a field someone else changed is taken back), deletes the
// ones it no longer needs, and waits until the runtime's cache has seen
// the Deployment, so Status right after Apply knows the workload.
func (r *Runtime) Apply(ctx context.Context, w runtime.Workload) error {
	if r.closed() {
		return ErrClosed
	}
	o, err := translate(w, r.opts.Namespace, r.opts.StorageClass)
	if err != nil {
		return err
	}
	unlock := r.wlocks.lock(w.ID)
	defer unlock()
	r.mu.Lock()
	r.desired[w.ID] = w
	delete(r.deleting, w.ID)
	r.mu.Unlock()
	gen, err := r.write(ctx, w, o)
	if err != nil {
		return fmt.Errorf("apply workload %s to cluster %s namespace %s: %w", w.ID, r.opts.Cluster, r.opts.Namespace, err)
	}
	return r.waitCached(ctx, o.name, gen)
}

// write applies every object of o (the translation of w) and the address
// Service of w's service, and prunes what o does not have. It returns the
// Deployment's generation.
func (r *Runtime) write(ctx context.Context, w runtime.Workload, o *objects) (int64, error) {
	// The namespace is applied once per runtime, not with every workload
	// (a request each); after any failed write it is applied again, so a
	// namespace deleted behind Berth's back comes back on the retry.
	if !r.nsApplied.Load() {
		if err := r.ensureNamespace(ctx); err != nil {
			return 0, err
		}
		r.nsApplied.Store(true)
	}
	gen, err := r.writeObjects(ctx, o)
	if err == nil {
		err = r.writeAddress(ctx, w)
	}
	if err != nil {
		r.nsApplied.Store(false)
	}
	return gen, err
}

// writeObjects applies o's objects into the existing namespace.
func (r *Runtime) writeObjects(ctx context.Context, o *objects) (int64, error) {
	ns := r.opts.Namespace
	core := r.client.CoreV1()
	if o.configMap != nil {
		if _, err := core.ConfigMaps(ns).Apply(ctx, o.configMap, applyOpts); err != nil {
			return 0, fmt.Errorf("configmap: %w", err)
		}
	}
	if o.files != nil {
		if _, err := core.ConfigMaps(ns).Apply(ctx, o.files, applyOpts); err != nil {
			return 0, fmt.Errorf("configmap of config files: %w", err)
		}
	}
	if o.secret != nil {
		if _, err := core.Secrets(ns).Apply(ctx, o.secret, applyOpts); err != nil {
			return 0, fmt.Errorf("secret: %w", err)
		}
	}
	if o.appSecrets != nil {
		if _, err := core.Secrets(ns).Apply(ctx, o.appSecrets, applyOpts); err != nil {
			return 0, fmt.Errorf("secret of the app's secrets: %w", err)
		}
	}
	for _, c := range o.claims {
		if err := r.applyClaim(ctx, c); err != nil {
			return 0, err
		}
	}
	d, err := r.client.AppsV1().Deployments(ns).Apply(ctx, o.deployment, applyOpts)
	if err != nil {
		return 0, fmt.Errorf("deployment: %w", err)
	}
	if _, err := core.Services(ns).Apply(ctx, o.service, applyOpts); err != nil {
		return 0, fmt.Errorf("service: %w", err)
	}
	if o.pdb != nil {
		if _, err := r.client.PolicyV1().PodDisruptionBudgets(ns).Apply(ctx, o.pdb, applyOpts); err != nil {
			return 0, fmt.Errorf("pod disruption budget: %w", err)
		}
	}
	if o.hpa != nil {
		if _, err := r.client.AutoscalingV2().HorizontalPodAutoscalers(ns).Apply(ctx, o.hpa, applyOpts); err != nil {
			return 0, fmt.Errorf("horizontal pod autoscaler: %w", err)
		}
	}
	if err := r.prune(ctx, o); err != nil {
		return 0, err
	}
	return d.Generation, nil
}

// applyClaim creates a volume claim once. A bound claim's spec is mostly
// immutable, so an existing one is left as it is (its data matters more
// than a changed size in the spec).
func (r *Runtime) applyClaim(ctx context.Context, c *corev1ac.PersistentVolumeClaimApplyConfiguration) error {
	pvcs := r.client.CoreV1().PersistentVolumeClaims(r.opts.Namespace)
	if _, err := pvcs.Get(ctx, *c.Name, metav1.GetOptions{}); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("volume claim %s: %w", *c.Name, err)
	}
	if _, err := pvcs.Apply(ctx, c, applyOpts); err != nil {
		return fmt.Errorf("volume claim %s: %w", *c.Name, err)
	}
	return nil
}

func (r *Runtime) ensureNamespace(ctx context.Context) error {
	ns := corev1ac.Namespace(r.opts.Namespace).WithLabels(map[string]string{LabelManagedBy: ManagedByBerth})
	if _, err := r.client.CoreV1().Namespaces().Apply(ctx, ns, applyOpts); err != nil {
		// A namespace made by an administrator may be all Berth is allowed
		// to use; that is fine as long as it exists.
		if apierrors.IsForbidden(err) {
			if _, gerr := r.client.CoreV1().Namespaces().Get(ctx, r.opts.Namespace, metav1.GetOptions{}); gerr == nil {
				return nil
			}
		}
		return fmt.Errorf("namespace: %w", err)
	}
	return nil
}

// prune deletes the workload's objects that o no longer has (a Secret
// once the env Berth adds is empty, a PodDisruptionBudget after scaling
// below 2, a ConfigMap once the spec declares no env). Only objects
// labelled as Berth's, of this workload, are considered; the cache is
// enough, since a missed one is pruned on the next pass.
func (r *Runtime) prune(ctx context.Context, o *objects) error {
	ns := r.opts.Namespace
	sel := labels.SelectorFromSet(selectorLabels(o.id))
	cms, err := r.factory.Core().V1().ConfigMaps().Lister().ConfigMaps(ns).List(sel)
	if err != nil {
		return err
	}
	for _, c := range cms {
		keep := (o.configMap != nil && c.Name == o.name+"-env") || (o.files != nil && c.Name == o.name+"-files")
		if !keep {
			if err := ignoreNotFound(r.client.CoreV1().ConfigMaps(ns).Delete(ctx, c.Name, metav1.DeleteOptions{})); err != nil {
				return fmt.Errorf("prune configmap %s: %w", c.Name, err)
			}
		}
	}
	secrets, err := r.secrets.Secrets(ns).List(sel)
	if err != nil {
		return err
	}
	for _, s := range secrets {
		keep := (o.secret != nil && s.Name == o.name+"-berth-env") || (o.appSecrets != nil && s.Name == o.name+"-secrets")
		if !keep {
			if err := ignoreNotFound(r.client.CoreV1().Secrets(ns).Delete(ctx, s.Name, metav1.DeleteOptions{})); err != nil {
				return fmt.Errorf("prune secret %s: %w", s.Name, err)
			}
		}
	}
	pdbs, err := r.factory.Policy().V1().PodDisruptionBudgets().Lister().PodDisruptionBudgets(ns).List(sel)
	if err != nil {
		return err
	}
	for _, p := range pdbs {
		if o.pdb == nil || p.Name != o.name {
			if err := ignoreNotFound(r.client.PolicyV1().PodDisruptionBudgets(ns).Delete(ctx, p.Name, metav1.DeleteOptions{})); err != nil {
				return fmt.Errorf("prune pod disruption budget %s: %w", p.Name, err)
			}
		}
	}
	hpas, err := r.factory.Autoscaling().V2().HorizontalPodAutoscalers().Lister().HorizontalPodAutoscalers(ns).List(sel)
	if err != nil {
		return err
	}
	for _, h := range hpas {
		if o.hpa == nil || h.Name != o.name {
			if err := ignoreNotFound(r.client.AutoscalingV2().HorizontalPodAutoscalers(ns).Delete(ctx, h.Name, metav1.DeleteOptions{})); err != nil {
				return fmt.Errorf("prune horizontal pod autoscaler %s: %w", h.Name, err)
			}
		}
	}
	return nil
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// waitCached waits until the informer has the Deployment at generation gen
// or later.
func (r *Runtime) waitCached(ctx context.Context, name string, gen int64) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		d, err := r.deployments.Deployments(r.opts.Namespace).Get(name)
		if err == nil && d.Generation >= gen {
			return nil
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workload %s applied, but not yet seen by the runtime's cache: %w", name, errors.Join(ctx.Err(), context.Cause(ctx)))
		case <-r.ctx.Done():
			return ErrClosed
		case <-t.C:
		}
	}
}
