package clusterroute

import (
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berthdev/berth/internal/routefeed"
	"github.com/berthdev/berth/internal/runtime/kube"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// syncRoutes applies one HTTPRoute per route of the environment's apps and
// deletes the environment's HTTPRoutes that no route needs any more.
func (r *Reconciler) syncRoutes(ctx context.Context, cl Clients, e store.Environment) error {
	snap, err := routefeed.CompileEnv(ctx, r.opts.Store, e.Name)
	if err != nil {
		return err
	}
	ports := map[string]map[string]int{}
	var want []any
	for _, rt := range snap.Routes {
		if _, ok := ports[rt.App]; !ok {
			a, err := r.opts.Store.GetApp(ctx, rt.App)
			if err != nil {
				return fmt.Errorf("app %s: %w", rt.App, err)
			}
			if ports[rt.App], err = servicePorts(ctx, r.opts.Store, a); err != nil {
				return err
			}
		}
		want = append(want, httpRoute(e, rt, ports[rt.App]))
	}
	return r.once("routes/"+e.Name, want, func() error {
		if len(snap.Routes) > 0 {
			if err := ensureNamespace(ctx, cl.Kube, e.Namespace); err != nil {
				return err
			}
		}
		routes := cl.Gateway.GatewayV1().HTTPRoutes(e.Namespace)
		names := map[string]bool{}
		for _, rt := range snap.Routes {
			ac := httpRoute(e, rt, ports[rt.App])
			names[*ac.Name] = true
			if _, err := routes.Apply(ctx, ac, applyOpts); err != nil {
				return fmt.Errorf("httproute %s: %w", *ac.Name, err)
			}
		}
		sel := labels.SelectorFromSet(envLabels(e.Name, RoleRoute)).String()
		list, err := routes.List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return fmt.Errorf("list httproutes: %w", err)
		}
		for _, old := range list.Items {
			if !names[old.Name] {
				if err := ignoreNotFound(routes.Delete(ctx, old.Name, metav1.DeleteOptions{})); err != nil {
					return fmt.Errorf("prune httproute %s: %w", old.Name, err)
				}
			}
		}
		return nil
	})
}

// prune deletes, in every namespace of the cluster, the gateway objects
// and HTTPRoutes of Berth's that no environment of the cluster needs: the
// environment is gone, or moved to the other routing mode.
func (r *Reconciler) prune(ctx context.Context, cl Clients, envs []store.Environment) error {
	wanted := func(mode string) func(ns string, l map[string]string) bool {
		return func(ns string, l map[string]string) bool {
			return slices.ContainsFunc(envs, func(e store.Environment) bool {
				return e.Name == l[LabelEnv] && e.Namespace == ns && routing(e) == mode
			})
		}
	}
	gw := labels.SelectorFromSet(labels.Set{kube.LabelManagedBy: kube.ManagedByBerth, LabelRole: RoleGateway}).String()
	rt := labels.SelectorFromSet(labels.Set{kube.LabelManagedBy: kube.ManagedByBerth, LabelRole: RoleRoute}).String()
	keepGateway, keepRoute := wanted(api.RoutingGateway), wanted(api.RoutingGatewayAPI)
	opts := metav1.ListOptions{LabelSelector: gw}
	var errs []error
	k := cl.Kube
	deployments, err := k.AppsV1().Deployments("").List(ctx, opts)
	errs = append(errs, r.pruneList(ctx, "deployment", deployments, err, keepGateway, func(ns, name string) error {
		return k.AppsV1().Deployments(ns).Delete(ctx, name, metav1.DeleteOptions{})
	}))
	services, err := k.CoreV1().Services("").List(ctx, opts)
	errs = append(errs, r.pruneList(ctx, "service", services, err, keepGateway, func(ns, name string) error {
		return k.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{})
	}))
	secrets, err := k.CoreV1().Secrets("").List(ctx, opts)
	errs = append(errs, r.pruneList(ctx, "secret", secrets, err, keepGateway, func(ns, name string) error {
		return k.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{})
	}))
	routes, err := cl.Gateway.GatewayV1().HTTPRoutes("").List(ctx, metav1.ListOptions{LabelSelector: rt})
	if !apierrors.IsNotFound(err) { // NotFound: the cluster has no Gateway API, so no HTTPRoutes
		errs = append(errs, r.pruneList(ctx, "httproute", routes, err, keepRoute, func(ns, name string) error {
			return cl.Gateway.GatewayV1().HTTPRoutes(ns).Delete(ctx, name, metav1.DeleteOptions{})
		}))
	}
	return errors.Join(errs...)
}

func (r *Reconciler) pruneList(ctx context.Context, kind string, list runtime.Object, listErr error,
	keep func(ns string, labels map[string]string) bool, del func(ns, name string) error) error {
	if listErr != nil {
		return fmt.Errorf("list %ss: %w", kind, listErr)
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, it := range items {
		m, err := meta.Accessor(it)
		if err != nil || keep(m.GetNamespace(), m.GetLabels()) {
			continue
		}
		if err := ignoreNotFound(del(m.GetNamespace(), m.GetName())); err != nil {
			return fmt.Errorf("prune %s %s/%s: %w", kind, m.GetNamespace(), m.GetName(), err)
		}
		r.log.InfoContext(ctx, "pruned an object of an environment that is gone or routes another way",
			"kind", kind, "namespace", m.GetNamespace(), "name", m.GetName(), "env", m.GetLabels()[LabelEnv])
	}
	return nil
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
