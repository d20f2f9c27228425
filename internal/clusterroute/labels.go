package clusterroute

import "github.com/berthdev/berth/internal/runtime/kube"

// Labels of the objects this package writes, besides kube.LabelManagedBy.
// Pruning selects by them, across every namespace of a cluster.
const (
	// LabelEnv names the environment an object serves.
	LabelEnv = "berth.dev/env"
	// LabelRole says what the object is for: RoleGateway (the
	// environment's gateway) or RoleRoute (an HTTPRoute).
	LabelRole   = kube.LabelRole
	RoleGateway = "gateway"
	RoleRoute   = "route"
	// LabelRoute is the route's ID (<app>/<index>) made a label value.
	LabelRoute = "berth.dev/route"
	// AnnotationRoute holds the route's ID as it is.
	AnnotationRoute = "berth.dev/route-id"
)

// GatewayName names the gateway's Deployment, Service and Secret in an
// environment's namespace.
const GatewayName = "berth-gateway"

// Ports of the gateway's container.
const (
	gatewayPort = 8080
	metricsPort = 9180
)

func envLabels(env, role string) map[string]string {
	return map[string]string{
		kube.LabelManagedBy: kube.ManagedByBerth,
		LabelEnv:            env,
		LabelRole:           role,
	}
}

func gatewayLabels(env string) map[string]string {
	l := envLabels(env, RoleGateway)
	l[kube.LabelName] = GatewayName
	l[kube.LabelComponent] = "gateway"
	l[kube.LabelPartOf] = "berth"
	return l
}
