package kube

import (
	"cmp"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Scaling down must stop the newest instances and keep the oldest, as the
// local runtime does (the reconciler takes the highest indexes out of
// traffic before it scales down). A ReplicaSet picks pods to delete by
// readiness, node spread and ready-time buckets, then at random; the one
// lever it offers is the pod-deletion-cost annotation (lower goes first).
// The runtime sets it on every new pod: below every cost the workload's
// pods already have, and at most what the pod's creation time gives, so
// older pods cost more even when a ReplicaSet creates several in the same
// second (creation times count whole seconds). Pods are ranked one at a
// time, in the order the informer saw them created.
const annotationDeletionCost = "controller.kubernetes.io/pod-deletion-cost"

// costEpoch keeps costs inside int32 for decades.
var costEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func creationCost(created time.Time) int64 {
	return -int64(created.Sub(costEpoch) / time.Second)
}

// podCost is the pod's deletion cost, if it has one.
func podCost(p *corev1.Pod) (int64, bool) {
	v, ok := p.Annotations[annotationDeletionCost]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	return n, err == nil
}

// rankPod gives the pod its deletion cost unless it has one.
func (r *Runtime) rankPod(ctx context.Context, p *corev1.Pod) error {
	if _, ok := podCost(p); ok || p.DeletionTimestamp != nil {
		return nil
	}
	id := p.Annotations[AnnotationWorkloadID]
	cost := creationCost(p.CreationTimestamp.Time)
	low, ok := r.lowCost[id]
	if !ok {
		// First pod of this workload since the runtime started: the
		// lowest cost its pods already have.
		pods, err := r.pods.Pods(r.opts.Namespace).List(labels.SelectorFromSet(selectorLabels(id)))
		if err != nil {
			return err
		}
		for _, q := range pods {
			if c, has := podCost(q); has && (!ok || c < low) {
				low, ok = c, true
			}
		}
	}
	if ok && low-1 < cost {
		cost = low - 1
	}
	want := strconv.FormatInt(cost, 10)
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{annotationDeletionCost: want}}})
	if err != nil {
		return err
	}
	if _, err = r.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return ignoreNotFound(err)
	}
	r.lowCost[id] = cost
	return nil
}

// needsRank queues a pod of Berth's that lacks its deletion cost.
func (r *Runtime) needsRank(obj any) {
	p, ok := obj.(*corev1.Pod)
	// Only pods of workloads: the environment's gateway (also Berth's,
	// in the same namespace) is no workload of this runtime.
	if !ok || p.DeletionTimestamp != nil || p.Annotations[AnnotationWorkloadID] == "" {
		return
	}
	if _, has := podCost(p); has {
		return
	}
	r.ranks.q.Add(p.Name)
}

// rankLoop annotates queued pods until Close.
func (r *Runtime) rankLoop() {
	for {
		name, quit := r.ranks.q.Get()
		if quit {
			return
		}
		p, err := r.pods.Pods(r.opts.Namespace).Get(name)
		if err == nil {
			err = r.rankPod(r.ctx, p)
		} else {
			err = ignoreNotFound(err)
		}
		if err != nil && r.ctx.Err() == nil {
			r.log.Warn("kube runtime: set pod deletion cost; retrying", "pod", name, "err", err)
			r.ranks.q.AddRateLimited(name)
		} else {
			r.ranks.q.Forget(name)
		}
		r.ranks.q.Done(name)
	}
}

// olderFirst orders pods as instances are indexed: by deletion cost, high
// (old) first, pods not yet ranked last; then by creation and name.
func olderFirst(a, b *corev1.Pod) int {
	ca, oka := podCost(a)
	cb, okb := podCost(b)
	switch {
	case oka && !okb:
		return -1
	case !oka && okb:
		return 1
	case oka && okb && ca != cb:
		return cmp.Compare(cb, ca)
	}
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}
