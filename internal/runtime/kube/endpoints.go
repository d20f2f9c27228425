package kube

import (
	"strconv"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// An instance takes traffic when Kubernetes says so: when its pod is an
// endpoint of the workload's Service, ready and not terminating, in one
// of the Service's EndpointSlices. That is what a gateway inside the
// cluster should send requests to (the slice's address and port), and
// what kube-proxy itself uses; a pod can be Ready a moment before the
// endpoint slice controller has added it, and it leaves the slice as soon
// as it starts terminating, before it is gone.

// endpoint is one pod's entry in its Service's EndpointSlices.
type endpoint struct {
	addr  string
	port  int
	ready bool
}

// sliceEndpoints maps pod names to their endpoints in the slices of the
// workload's Service (named like its Deployment).
func (r *Runtime) sliceEndpoints(name string) map[string]endpoint {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
	slices, err := r.slices.EndpointSlices(r.opts.Namespace).List(sel)
	if err != nil {
		return nil
	}
	out := map[string]endpoint{}
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		port := slicePort(s)
		for _, e := range s.Endpoints {
			if e.TargetRef == nil || e.TargetRef.Kind != "Pod" || len(e.Addresses) == 0 {
				continue
			}
			ready := (e.Conditions.Ready == nil || *e.Conditions.Ready) &&
				(e.Conditions.Terminating == nil || !*e.Conditions.Terminating)
			out[e.TargetRef.Name] = endpoint{addr: e.Addresses[0], port: port, ready: ready}
		}
	}
	return out
}

// slicePort is the slice's port named "main" (the one $PORT names), else
// its first.
func slicePort(s *discoveryv1.EndpointSlice) int {
	port := 0
	for i, p := range s.Ports {
		if p.Port == nil {
			continue
		}
		if i == 0 || (p.Name != nil && *p.Name == "main") {
			port = int(*p.Port)
		}
	}
	return port
}

// sliceWorkload is the workload whose Service the slice belongs to, ""
// when it is not one of Berth's.
func (r *Runtime) sliceWorkload(s *discoveryv1.EndpointSlice) string {
	svc := s.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return ""
	}
	d, err := r.deployments.Deployments(r.opts.Namespace).Get(svc)
	if err != nil {
		return ""
	}
	return d.Annotations[AnnotationWorkloadID]
}

// hostPort formats an endpoint for messages.
func (e endpoint) hostPort() string { return e.addr + ":" + strconv.Itoa(e.port) }
