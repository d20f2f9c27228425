package kube

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/berthdev/berth/internal/runtime"
)

// Status reads the workload from the informers' caches.
func (r *Runtime) Status(ctx context.Context, id string) (runtime.WorkloadStatus, error) {
	if r.closed() {
		return runtime.WorkloadStatus{}, ErrClosed
	}
	d, err := r.deployment(id)
	if err != nil {
		return runtime.WorkloadStatus{}, err
	}
	return r.status(d, time.Now())
}

// deployment is the workload's Deployment from the cache, or ErrNotFound.
func (r *Runtime) deployment(id string) (*appsv1.Deployment, error) {
	d, err := r.deployments.Deployments(r.opts.Namespace).Get(objectName(id))
	if apierrors.IsNotFound(err) || (err == nil && d.Annotations[AnnotationWorkloadID] != id) {
		return nil, fmt.Errorf("workload %q: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// List returns the workloads of app ("" for every app) in the namespace.
func (r *Runtime) List(ctx context.Context, app string) ([]runtime.WorkloadStatus, error) {
	if r.closed() {
		return nil, ErrClosed
	}
	set := labels.Set{LabelManagedBy: ManagedByBerth}
	if app != "" {
		set[LabelApp] = labelValue(app)
	}
	ds, err := r.deployments.Deployments(r.opts.Namespace).List(labels.SelectorFromSet(set))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]runtime.WorkloadStatus, 0, len(ds))
	for _, d := range ds {
		if d.Annotations[AnnotationWorkloadID] == "" {
			continue
		}
		ws, err := r.status(d, now)
		if err != nil {
			return nil, err
		}
		if app != "" && ws.App != app {
			continue
		}
		out = append(out, ws)
	}
	slices.SortFunc(out, func(a, b runtime.WorkloadStatus) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (r *Runtime) status(d *appsv1.Deployment, now time.Time) (runtime.WorkloadStatus, error) {
	id := d.Annotations[AnnotationWorkloadID]
	rel, _ := strconv.Atoi(d.Labels[LabelRelease])
	ws := runtime.WorkloadStatus{
		ID:      id,
		App:     d.Labels[LabelPartOf],
		Service: d.Labels[LabelComponent],
		Release: rel,
	}
	r.mu.Lock()
	if w, ok := r.desired[id]; ok {
		// Labels may be shortened; what Apply was given is exact.
		ws.App, ws.Service = w.App, w.Service
	}
	r.mu.Unlock()
	if d.Spec.Replicas != nil {
		ws.Replicas = int(*d.Spec.Replicas)
	}
	if asked, ok := d.Annotations[AnnotationReplicas]; ok {
		// Autoscaled: Replicas is what Berth asked for (the minimum), so
		// the reconciler does not read the HPA's scaling as drift.
		ws.Replicas, _ = strconv.Atoi(asked)
		ws.Autoscale = "by a HorizontalPodAutoscaler; now " + strconv.Itoa(int(d.Status.Replicas)) + " instances"
		if h, err := r.factory.Autoscaling().V2().HorizontalPodAutoscalers().Lister().HorizontalPodAutoscalers(r.opts.Namespace).Get(d.Name); err == nil {
			ws.Autoscale = fmt.Sprintf("by a HorizontalPodAutoscaler (%d-%d instances); now %d", ptrOr(h.Spec.MinReplicas, 1), h.Spec.MaxReplicas, h.Status.CurrentReplicas)
		}
	}
	pods, err := r.pods.Pods(r.opts.Namespace).List(labels.SelectorFromSet(selectorLabels(id)))
	if err != nil {
		return ws, err
	}
	slices.SortFunc(pods, olderFirst)
	eps := r.sliceEndpoints(objectName(id))
	ws.Instances = []runtime.Instance{}
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		in := withEndpoint(podInstance(p, now), eps)
		in.Index = len(ws.Instances)
		ws.Instances = append(ws.Instances, in)
		if in.Ready {
			ws.Ready++
		}
	}
	ws.Message = deploymentMessage(d)
	if c := d.Spec.Template.Spec.Containers; len(c) > 0 && len(c[0].Resources.Limits) > 0 {
		ws.Limits = "enforced by the kubelet"
	}
	if s, err := r.secrets.Secrets(r.opts.Namespace).Get(objectName(id) + "-berth-env"); err == nil {
		ws.Env = make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			ws.Env[k] = string(v)
		}
	}
	return ws, nil
}

// withEndpoint makes a ready pod's instance ready only once it is a
// ready endpoint of its Service, and gives it the endpoint's address:
// where the cluster (and a gateway in it) sends its traffic.
func withEndpoint(in runtime.Instance, eps map[string]endpoint) runtime.Instance {
	if !in.Ready {
		return in
	}
	e, ok := eps[in.ID]
	switch {
	case !ok:
		in.Ready, in.State, in.Message = false, runtime.StateStarting, "ready; waiting to be added to its Service's endpoints"
	case !e.ready:
		in.Ready, in.State, in.Message = false, runtime.StateStarting, "ready; its endpoint "+e.hostPort()+" is not ready yet"
	default:
		in.Host = e.addr
		if e.port > 0 {
			in.Port = e.port
		}
	}
	return in
}

// deploymentMessage says why the Deployment cannot make its pods (a quota
// exceeded, a pod the API refused) or why it stopped progressing.
func deploymentMessage(d *appsv1.Deployment) string {
	var msgs []string
	for _, c := range d.Status.Conditions {
		switch {
		case c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue:
			msgs = append(msgs, c.Reason+": "+c.Message)
		case c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse:
			msgs = append(msgs, c.Reason+": "+c.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

// podInstance describes one pod as an instance, with the real reason when
// it is not running: the scheduler's message, the kubelet's waiting
// reason (ImagePullBackOff, CrashLoopBackOff...), a failing check.
func podInstance(p *corev1.Pod, now time.Time) runtime.Instance {
	in := runtime.Instance{
		ID:   p.Name,
		Host: p.Status.PodIP,
		Node: p.Spec.NodeName,
	}
	var spec *corev1.Container
	if len(p.Spec.Containers) > 0 {
		spec = &p.Spec.Containers[0]
		in.Port = containerPort(spec)
	}
	var cs *corev1.ContainerStatus
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == containerName || cs == nil {
			cs = &p.Status.ContainerStatuses[i]
		}
	}
	podReady := false
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			podReady = true
		}
	}
	if cs != nil {
		in.Restarts = int(cs.RestartCount)
		if t := cs.LastTerminationState.Terminated; t != nil {
			in.LastExit = &runtime.Exit{Code: int(t.ExitCode), At: t.FinishedAt.Time}
			if t.Signal != 0 {
				in.LastExit.Signal = "signal " + strconv.Itoa(int(t.Signal))
			}
			if t.Message != "" {
				in.LastExit.LogTail = strings.Split(strings.TrimRight(t.Message, "\n"), "\n")
			}
		}
		if run := cs.State.Running; run != nil {
			in.StartedAt = run.StartedAt.Time
		}
	}
	if in.StartedAt.IsZero() && p.Status.StartTime != nil {
		in.StartedAt = p.Status.StartTime.Time
	}

	switch {
	case p.DeletionTimestamp != nil:
		in.State, in.Message = runtime.StateStopping, "being deleted"
		return in
	case p.Status.Phase == corev1.PodFailed:
		in.State, in.Message = runtime.StateFailed, join(p.Status.Reason, p.Status.Message)
		return in
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			in.State, in.Message = runtime.StateStarting, join(c.Reason, c.Message)
			return in
		}
	}
	switch {
	case cs == nil:
		in.State, in.Message = runtime.StateStarting, join(p.Status.Reason, p.Status.Message)
	case cs.State.Waiting != nil:
		w := cs.State.Waiting
		switch w.Reason {
		case "", "ContainerCreating", "PodInitializing":
			in.State, in.Message = runtime.StateStarting, join(w.Reason, w.Message)
		default: // CrashLoopBackOff, ImagePullBackOff, ErrImagePull, CreateContainerConfigError...
			in.State, in.Message = runtime.StateBackoff, join(w.Reason, w.Message)
			if in.LastExit != nil && w.Reason == "CrashLoopBackOff" {
				in.Message += fmt.Sprintf(" (last exit code %d)", in.LastExit.Code)
			}
		}
	case cs.State.Terminated != nil:
		t := cs.State.Terminated
		in.State, in.Message = runtime.StateBackoff, join(t.Reason, fmt.Sprintf("exited with code %d", t.ExitCode))
	case cs.State.Running != nil && podReady && cs.Ready:
		in.State, in.Ready = runtime.StateRunning, true
	case cs.State.Running != nil:
		in.State = runtime.StateStarting
		if spec != nil && spec.ReadinessProbe != nil {
			pr := spec.ReadinessProbe
			grace := time.Duration(pr.InitialDelaySeconds+pr.PeriodSeconds*max(1, pr.FailureThreshold)) * time.Second
			in.Message = "waiting for health check " + describeProbe(pr, in.Port)
			if !in.StartedAt.IsZero() && now.Sub(in.StartedAt) > grace {
				in.State, in.Message = runtime.StateUnhealthy, "health check "+describeProbe(pr, in.Port)+" failing"
			}
		}
	default:
		in.State = runtime.StateStarting
	}
	return in
}

func join(reason, msg string) string {
	switch {
	case reason == "":
		return msg
	case msg == "":
		return reason
	}
	return reason + ": " + msg
}

func containerPort(c *corev1.Container) int {
	for _, p := range c.Ports {
		if p.Name == "main" {
			return int(p.ContainerPort)
		}
	}
	if len(c.Ports) > 0 {
		return int(c.Ports[0].ContainerPort)
	}
	return 0
}

func describeProbe(p *corev1.Probe, port int) string {
	switch {
	case p.HTTPGet != nil:
		return fmt.Sprintf("GET :%s%s", p.HTTPGet.Port.String(), p.HTTPGet.Path)
	case p.TCPSocket != nil:
		return "tcp :" + p.TCPSocket.Port.String()
	case p.Exec != nil:
		return "exec " + strings.Join(p.Exec.Command, " ")
	}
	return "on :" + strconv.Itoa(port)
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}
