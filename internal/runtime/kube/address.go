package kube

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

// Stable service addresses on a cluster.
//
// A workload's own Service is named after its release, so it changes with
// every release and cannot be what a dependent is started with. Each
// service of an app therefore also gets an address Service, named after
// the app and the service only, that selects the pods of every workload of
// the service (every release and track that runs): it outlives releases
// and rollbacks, and during a canary it balances over both tracks, as the
// server's stable local port does for the local runtime (internal/svcproxy).
// Readiness decides which pods are its endpoints, as for any Service.
//
// Dependents get its DNS name without the cluster domain,
// <name>.<namespace>.svc: a pod's resolver completes it from its search
// list (<namespace>.svc.<domain>, svc.<domain>, <domain>), which the
// kubelet builds from the cluster's own domain. The domain is a kubelet
// setting ("cluster.local" by default, but not everywhere) that the API
// does not show, so writing it out could name a domain the cluster does
// not serve.
//
// The address Service follows the newest release Berth wants of the
// service (its ports, by name, so pods of an older release whose port
// number differs are still reached on theirs): every workload of the
// service then writes the same object. It is pruned once no workload of
// the service is left, and restored like any of Berth's objects when it
// is deleted or edited behind Berth's back.

const (
	// LabelRole says what an object of Berth's that belongs to no single
	// workload is for (internal/clusterroute uses it too).
	LabelRole = "berth.dev/role"
	// RoleAddress marks the address Service of an app's service.
	RoleAddress = "address"
	// AnnotationAddressOf holds "<app>/<service>" on an address Service,
	// unshortened.
	AnnotationAddressOf = "berth.dev/address-of"
)

// releaseSuffix is how every workload ID ends.
var releaseSuffix = regexp.MustCompile(`-r[0-9]+$`)

// AddressName is the name of the address Service of service svc of app:
// "<app>-<svc>", shortened like any name. A name that ends like a
// workload's ("-r<N>") gets "-svc" added, so it never takes the name of a
// workload's Service.
func AddressName(app, svc string) string {
	n := app + "-" + svc
	if releaseSuffix.MatchString(n) {
		n += "-svc"
	}
	return objectName(n)
}

// ServiceAddress is the DNS name and port of the address Service of app's
// service svc: where the app's pods reach it.
func (r *Runtime) ServiceAddress(_ context.Context, app, svc string, s spec.Service) (string, bool, error) {
	host := AddressName(app, svc) + "." + r.opts.Namespace + ".svc"
	return net.JoinHostPort(host, strconv.Itoa(mainPort(s))), true, nil
}

var _ runtime.Addresser = (*Runtime)(nil)

func addressSelector(app, svc string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedByBerth, LabelApp: labelValue(app), LabelService: labelValue(svc)}
}

// addressService is the address Service of w's service, as w declares it.
func addressService(w runtime.Workload, ns string) *corev1ac.ServiceApplyConfiguration {
	l := map[string]string{
		LabelManagedBy: ManagedByBerth,
		LabelName:      labelValue(w.Service),
		LabelComponent: labelValue(w.Service),
		LabelPartOf:    labelValue(w.App),
		LabelApp:       labelValue(w.App),
		LabelService:   labelValue(w.Service),
		LabelRole:      RoleAddress,
	}
	return corev1ac.Service(AddressName(w.App, w.Service), ns).WithLabels(l).
		WithAnnotations(map[string]string{AnnotationAddressOf: w.App + "/" + w.Service}).
		WithSpec(corev1ac.ServiceSpec().WithType(corev1.ServiceTypeClusterIP).
			WithSelector(addressSelector(w.App, w.Service)).
			WithPorts(servicePorts(w.Spec, true)...))
}

// addressKey locks the address Service of a service (workload IDs never
// hold a '/').
func addressKey(app, svc string) string { return "address/" + app + "/" + svc }

// writeAddress applies the address Service of w's service as the newest
// workload of it that Berth wants declares it. Writes of one service's
// address are serialised and each reads the wanted workloads after its
// own was recorded, so the last write is the newest release's whatever
// the order of concurrent applies.
func (r *Runtime) writeAddress(ctx context.Context, w runtime.Workload) error {
	unlock := r.wlocks.lock(addressKey(w.App, w.Service))
	defer unlock()
	owner, ok := r.newestWanted(w.App, w.Service)
	if !ok {
		owner = w
	}
	name := AddressName(w.App, w.Service)
	// Names are joined with '-', so two services can meet on one name
	// ("a-b"/"c" and "a"/"b-c"), or meet a workload's or the gateway's.
	if s, err := r.services.Services(r.opts.Namespace).Get(name); err == nil {
		if of := s.Annotations[AnnotationAddressOf]; s.Labels[LabelRole] != RoleAddress || of != w.App+"/"+w.Service {
			return fmt.Errorf("%w: the address Service %s of %s/%s: the name is taken by another Service of Berth's (%s%s); rename the app or the service",
				ErrInvalidWorkload, name, w.App, w.Service, of, s.Annotations[AnnotationWorkloadID])
		}
	}
	if _, err := r.client.CoreV1().Services(r.opts.Namespace).Apply(ctx, addressService(owner, r.opts.Namespace), applyOpts); err != nil {
		return fmt.Errorf("address service %s: %w", name, err)
	}
	return nil
}

// newestWanted is the newest release Berth wants of service svc of app.
func (r *Runtime) newestWanted(app, svc string) (runtime.Workload, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best runtime.Workload
	found := false
	for id, d := range r.desired {
		if d.App == app && d.Service == svc && !r.deleting[id] && (!found || d.Release > best.Release) {
			best, found = d, true
		}
	}
	return best, found
}

// wantedOf is the ID of the newest workload Berth wants of the service
// whose address Service obj is, "" when obj is not one or none is wanted.
func (r *Runtime) wantedOf(obj metav1.Object) string {
	if obj.GetLabels()[LabelRole] != RoleAddress {
		return ""
	}
	app, svc, ok := strings.Cut(obj.GetAnnotations()[AnnotationAddressOf], "/")
	if !ok {
		return ""
	}
	w, _ := r.newestWanted(app, svc)
	return w.ID
}

// pruneAddresses deletes the address Services of services that have no
// workload left: none Berth wants, and no Deployment on the cluster that
// is not being deleted (after a restart Berth is told what it wants
// again only as the reconciler gets to each app).
func (r *Runtime) pruneAddresses(ctx context.Context) error {
	ns := r.opts.Namespace
	sel := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedByBerth, LabelRole: RoleAddress})
	svcs, err := r.services.Services(ns).List(sel)
	if err != nil {
		return err
	}
	for _, s := range svcs {
		app, svc, ok := strings.Cut(s.Annotations[AnnotationAddressOf], "/")
		if !ok || r.serviceLive(app, svc) {
			continue
		}
		unlock := r.wlocks.lock(addressKey(app, svc))
		var derr error
		if !r.serviceLive(app, svc) {
			uid := s.UID
			derr = ignoreNotFound(r.client.CoreV1().Services(ns).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}))
		}
		unlock()
		if derr != nil {
			return fmt.Errorf("prune address service %s: %w", s.Name, derr)
		}
	}
	return nil
}

// serviceLive says whether any workload of the service is wanted or runs.
func (r *Runtime) serviceLive(app, svc string) bool {
	if _, ok := r.newestWanted(app, svc); ok {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, err := r.deployments.Deployments(r.opts.Namespace).List(labels.SelectorFromSet(addressSelector(app, svc)))
	if err != nil {
		return true // keep it: a missed prune is done on the next Delete
	}
	for _, d := range ds {
		if d.DeletionTimestamp == nil && !r.deleting[d.Annotations[AnnotationWorkloadID]] {
			return true
		}
	}
	return false
}
