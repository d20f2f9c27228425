package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Kinds of the objects Sweep removes, as it counts them.
const (
	KindSecret = "secret"
	KindPod    = "pod"
	KindClaim  = "persistentvolumeclaim"
)

// sweepSelector matches every pipeline object the executor makes (step
// and checkout pods, their Secrets, workspace claims) and nothing the
// Kubernetes runtime deploys: those carry the managed-by label but never
// the run label.
const sweepSelector = managedByLabel + "=" + managedByValue + "," + runLabel

// sweepKind lists and deletes one kind of pipeline object.
type sweepKind struct {
	kind string
	list func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error)
	del  func(ctx context.Context, name string, o metav1.DeleteOptions) error
}

// sweepKinds in the order Sweep deletes them: a Secret before the pod
// that owns it (so the count does not race the garbage collector), a
// claim last (its protection finalizer waits for the pods anyway).
func (e *Executor) sweepKinds() []sweepKind {
	core := e.o.Client.CoreV1()
	ns := e.o.Namespace
	return []sweepKind{
		{KindSecret, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return core.Secrets(ns).List(ctx, o)
		}, core.Secrets(ns).Delete},
		{KindPod, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return core.Pods(ns).List(ctx, o)
		}, core.Pods(ns).Delete},
		{KindClaim, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return core.PersistentVolumeClaims(ns).List(ctx, o)
		}, core.PersistentVolumeClaims(ns).Delete},
	}
}

// listed is the metadata of the pipeline objects of kind k.
func (k sweepKind) listed(ctx context.Context) ([]metav1.Object, error) {
	l, err := k.list(ctx, metav1.ListOptions{LabelSelector: sweepSelector})
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(l)
	if err != nil {
		return nil, err
	}
	out := make([]metav1.Object, 0, len(items))
	for _, it := range items {
		a, err := meta.Accessor(it)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Sweep removes the pipeline objects in the executor's namespace whose
// run is not live: what a server that died mid-run, or a Cleanup that
// could not reach the cluster, left behind. live answers the IDs of the
// runs that may still own objects; it is asked after every object was
// listed, so a run that made its first object during the sweep is in its
// answer, never mistaken for a leftover. It returns how many objects of
// each kind it deleted (KindPod, KindSecret, KindClaim).
//
// A namespace-limited account without list or delete rights gets an
// error that says which right is missing; nothing is half-listed then.
func (e *Executor) Sweep(ctx context.Context, live func(context.Context) ([]string, error)) (map[string]int, error) {
	kinds := e.sweepKinds()
	found := make([][]metav1.Object, len(kinds))
	for i, k := range kinds {
		objs, err := k.listed(ctx)
		if err != nil {
			return nil, e.sweepErr("list", k.kind, err)
		}
		found[i] = objs
	}
	ids, err := live(ctx)
	if err != nil {
		return nil, fmt.Errorf("kube executor: sweep: which runs are live: %w", err)
	}
	keep := make(map[string]bool, len(ids))
	for _, id := range ids {
		keep[labelValue(id)] = true
	}
	removed := map[string]int{}
	bg := metav1.DeletePropagationBackground
	for i, k := range kinds {
		for _, o := range found[i] {
			run := o.GetLabels()[runLabel]
			if keep[run] || o.GetDeletionTimestamp() != nil {
				continue
			}
			// The UID precondition: only the object that was listed, never
			// one made since under the same name.
			uid := o.GetUID()
			err := k.del(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid}})
			switch {
			case err == nil:
				removed[k.kind]++
				e.log.InfoContext(ctx, "removed a pipeline leftover", "namespace", e.o.Namespace, "kind", k.kind, "name", o.GetName(), "run_label", run)
			case apierrors.IsNotFound(err), apierrors.IsConflict(err):
				// Gone already (the garbage collector took a pod's
				// Secret) or replaced: nothing of ours to remove.
			default:
				return removed, e.sweepErr("delete", k.kind, err)
			}
		}
	}
	return removed, nil
}

// sweepErr says which right a forbidden sweep lacks, so the operator can
// grant it (or knows why leftovers stay).
func (e *Executor) sweepErr(verb, kind string, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("kube executor: the cluster account may not %s %ss in namespace %s, so pipeline leftovers there are not removed (grant list and delete on pods, secrets and persistentvolumeclaims, or delete objects labelled %s by hand): %w",
			verb, kind, e.o.Namespace, runLabel, err)
	}
	return fmt.Errorf("kube executor: sweep: %s %ss in namespace %s: %w", verb, kind, e.o.Namespace, err)
}
