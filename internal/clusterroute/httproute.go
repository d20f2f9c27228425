package clusterroute

import (
	"context"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1ac "sigs.k8s.io/gateway-api/applyconfiguration/apis/v1"

	"github.com/berthdev/berth/internal/deploy"
	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/routefeed"
	"github.com/berthdev/berth/internal/runtime/kube"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
)

// An HTTPRoute carries a route's match (host, path, headers, methods) and
// its tracks as weighted backendRefs: one per release, to that release's
// own Service (the Kubernetes runtime gives each workload one), weighted
// by the track's weight. Gateway API implementations split traffic by
// backendRef weight, so a canary's weight is exact to the extent the
// implementation honours weights, and the pods of each release are
// balanced by the implementation. Berth's gateway policies (retries,
// circuit breaking, rate limits, auth, sticky sessions) are its own
// gateway's: they are not carried into HTTPRoutes.

// routeName is the HTTPRoute of route id (<app>/<index>).
func routeName(id string) string {
	return kube.ObjectName(strings.ReplaceAll(id, "/", "-"))
}

// httpRoute translates one compiled route. ports gives the Service port
// of each service of the route's app.
func httpRoute(env store.Environment, r gateway.Route, ports map[string]int) *gwv1ac.HTTPRouteApplyConfiguration {
	labels := envLabels(env.Name, RoleRoute)
	labels[LabelRoute] = routeName(r.ID)
	labels[kube.LabelApp] = kube.ObjectName(r.App)
	parentNS, parentName, found := strings.Cut(env.GatewayParent, "/")
	if !found {
		parentNS, parentName = "", parentNS
	}
	parent := gwv1ac.ParentReference().WithName(gwv1.ObjectName(parentName))
	if parentNS != "" {
		parent.WithNamespace(gwv1.Namespace(parentNS))
	}
	spec := gwv1ac.HTTPRouteSpec().WithParentRefs(parent)
	if h := r.Host; h != "" && h != "*" {
		spec.WithHostnames(gwv1.Hostname(strings.TrimSuffix(strings.ToLower(h), ".")))
	}
	rule := gwv1ac.HTTPRouteRule()
	for _, m := range routeMatches(r) {
		rule.WithMatches(m)
	}
	for _, t := range r.Tracks {
		svc := kube.ObjectName(deploy.WorkloadID(r.App, r.Service, t.Release))
		rule.WithBackendRefs(gwv1ac.HTTPBackendRef().
			WithName(gwv1.ObjectName(svc)).
			WithPort(gwv1.PortNumber(ports[r.Service])).
			WithWeight(int32(t.Weight)))
	}
	spec.WithRules(rule)
	return gwv1ac.HTTPRoute(routeName(r.ID), env.Namespace).
		WithLabels(labels).
		WithAnnotations(map[string]string{AnnotationRoute: r.ID}).
		WithSpec(spec)
}

// routeMatches is one match per method (matches are ORed), each with the
// path and every header (ANDed within a match).
func routeMatches(r gateway.Route) []*gwv1ac.HTTPRouteMatchApplyConfiguration {
	path := r.Path
	if path == "" {
		path = "/"
	}
	typ := gwv1.PathMatchPathPrefix
	if r.PathType == spec.PathExact {
		typ = gwv1.PathMatchExact
	} else if len(path) > 1 {
		path = strings.TrimSuffix(path, "/") // a trailing slash makes no difference to a Berth prefix
	}
	one := func() *gwv1ac.HTTPRouteMatchApplyConfiguration {
		m := gwv1ac.HTTPRouteMatch().WithPath(gwv1ac.HTTPPathMatch().WithType(typ).WithValue(path))
		for _, h := range r.Headers {
			m.WithHeaders(gwv1ac.HTTPHeaderMatch().WithType(gwv1.HeaderMatchExact).
				WithName(gwv1.HTTPHeaderName(h.Name)).WithValue(h.Value))
		}
		return m
	}
	if len(r.Methods) == 0 {
		return []*gwv1ac.HTTPRouteMatchApplyConfiguration{one()}
	}
	out := make([]*gwv1ac.HTTPRouteMatchApplyConfiguration, 0, len(r.Methods))
	for _, meth := range r.Methods {
		out = append(out, one().WithMethod(gwv1.HTTPMethod(strings.ToUpper(meth))))
	}
	return out
}

// servicePorts reads the Service port of every service of the app's
// serving release.
func servicePorts(ctx context.Context, st Store, a store.App) (map[string]int, error) {
	s, err := routefeed.ServingSpec(ctx, st, a)
	if err != nil {
		return nil, err
	}
	ports := map[string]int{}
	for name, svc := range s.Services {
		if svc != nil {
			ports[name] = kube.MainPort(*svc)
		}
	}
	return ports, nil
}
