package clusterroute

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/berthdev/berth/internal/runtime/kube"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// The environment's status is what `berth env show` prints: the gateway's
// replicas, each TLS Secret, and the problems an operator must fix. The
// reconciler looks at most every Options.StatusEvery per environment (and
// at once when its settings change) and writes the status only when it
// changed, or once a minute to say it is still true.

// statusRefresh is how old a written status may get while unchanged.
const statusRefresh = time.Minute

// pullReasons are the waiting reasons of a container whose image the
// node cannot get.
var pullReasons = map[string]bool{"ImagePullBackOff": true, "ErrImagePull": true, "InvalidImageName": true, "ErrImageNeverPull": true}

// seen is what the reconciler last found of one environment.
type seen struct {
	at       time.Time
	env      store.Environment
	tls      tlsState
	status   api.EnvironmentStatus // as last written
	statusAt time.Time
}

// lookDue says whether the environment's cluster objects should be read
// again, and returns what was found last.
func (r *Reconciler) lookDue(e store.Environment) (bool, *seen) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.seen[e.Name]
	if s == nil {
		s = &seen{}
		r.seen[e.Name] = s
	}
	return s.env != e || r.now().Sub(s.at) >= r.opts.StatusEvery, s
}

// observeGateway reads the gateway's Deployment and pods into a status.
func observeGateway(ctx context.Context, kc kubernetes.Interface, e store.Environment) (api.EnvironmentStatus, error) {
	var st api.EnvironmentStatus
	d, err := kc.AppsV1().Deployments(e.Namespace).Get(ctx, GatewayName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		st.Gateway = api.GatewayProgressing
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("deployment %s: %w", GatewayName, err)
	}
	sel := labels.SelectorFromSet(labels.Set{kube.LabelManagedBy: kube.ManagedByBerth, LabelRole: RoleGateway, LabelEnv: e.Name}).String()
	pods, err := kc.CoreV1().Pods(e.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return st, fmt.Errorf("gateway pods: %w", err)
	}
	return gatewayStatus(d, pods.Items), nil
}

// gatewayStatus judges the gateway from its Deployment and pods: ready
// when every wanted replica is ready and current, degraded when a pod
// cannot start for a reason that will not pass by itself (its image
// cannot be pulled, it crashes, it cannot be scheduled), else
// progressing.
func gatewayStatus(d *appsv1.Deployment, pods []corev1.Pod) api.EnvironmentStatus {
	st := api.EnvironmentStatus{Ready: int(d.Status.ReadyReplicas), Replicas: 1}
	if d.Spec.Replicas != nil {
		st.Replicas = int(*d.Spec.Replicas)
	}
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		st.Image = cs[0].Image
	}
	problems := map[string]bool{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				problems[fmt.Sprintf("gateway pods cannot be scheduled: %s", c.Message)] = true
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			w := cs.State.Waiting
			switch {
			case w == nil:
			case pullReasons[w.Reason]:
				problems[fmt.Sprintf("the gateway image %s cannot be pulled (%s: %s): build it with \"make image\", push it where the cluster pulls from, "+
					"and start the server with --cluster-gateway-image REGISTRY/berth:TAG (see docs/kubernetes.md)", cs.Image, w.Reason, w.Message)] = true
			case w.Reason == "CrashLoopBackOff":
				exit := ""
				if t := cs.LastTerminationState.Terminated; t != nil {
					exit = fmt.Sprintf(", last exit code %d", t.ExitCode)
				}
				problems[fmt.Sprintf("gateway pods keep crashing (CrashLoopBackOff%s): kubectl -n %s logs deploy/%s", exit, p.Namespace, GatewayName)] = true
			case w.Reason == "CreateContainerConfigError" || w.Reason == "CreateContainerError":
				problems[fmt.Sprintf("gateway pods cannot start: %s: %s", w.Reason, w.Message)] = true
			}
		}
	}
	for p := range problems {
		st.Problems = append(st.Problems, p)
	}
	sort.Strings(st.Problems)
	switch {
	case len(st.Problems) > 0:
		st.Gateway = api.GatewayDegraded
	case st.Ready >= st.Replicas && d.Status.UpdatedReplicas >= int32(st.Replicas) && d.Status.Replicas == int32(st.Replicas) &&
		d.Status.ObservedGeneration >= d.Generation:
		st.Gateway = api.GatewayReady
	default:
		st.Gateway = api.GatewayProgressing
	}
	return st
}

// withTLS adds the TLS Secrets' findings to a status.
func withTLS(st api.EnvironmentStatus, e store.Environment, tls tlsState) api.EnvironmentStatus {
	st.TLSSecrets = tls.Status
	for _, s := range tls.Status {
		if s.Error != "" {
			st.Problems = append(st.Problems, fmt.Sprintf("TLS secret %s %s", s.Name, s.Error))
		}
	}
	if len(tls.Status) > 0 && len(tls.Served) == 0 {
		st.Problems = append(st.Problems, fmt.Sprintf("no TLS Secret of environment %s can be served: its gateway serves HTTP only (no port 443)", e.Name))
	}
	return st
}

// report writes the environment's status when it changed (or has not
// been written for statusRefresh).
func (r *Reconciler) report(ctx context.Context, e store.Environment, s *seen, st api.EnvironmentStatus) {
	now := r.now()
	r.mu.Lock()
	last, lastAt := s.status, s.statusAt
	r.mu.Unlock()
	last.CheckedAt = time.Time{}
	if reflect.DeepEqual(last, st) && now.Sub(lastAt) < statusRefresh {
		return
	}
	st.CheckedAt = now
	if err := r.opts.Store.SetEnvironmentStatus(ctx, e.Name, st); err != nil {
		r.log.WarnContext(ctx, "could not record the status of an environment's gateway", "env", e.Name, "err", err)
		return
	}
	r.mu.Lock()
	s.status, s.statusAt = st, now
	r.mu.Unlock()
	if len(st.Problems) > 0 && !reflect.DeepEqual(last.Problems, st.Problems) {
		r.log.WarnContext(ctx, "the gateway of an environment has problems", "env", e.Name, "problems", strings.Join(st.Problems, "; "))
	}
}

// forget drops what was seen of environments that are gone.
func (r *Reconciler) forget(envs []store.Environment) {
	keep := map[string]bool{}
	for _, e := range envs {
		keep[e.Name] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name := range r.seen {
		if !keep[name] {
			delete(r.seen, name)
		}
	}
}
