// Package clusterroute routes traffic to the apps of environments on
// Kubernetes clusters. For an environment with routing "gateway" it runs
// Berth's own gateway in the environment's namespace: a Deployment
// running `berth gateway --env NAME`, which follows that environment's
// route feed from the control plane with a token that reads nothing else,
// and one Service of type LoadBalancer in front of it, so every app of
// the environment shares one public address. For routing "gateway-api" it
// writes Gateway API HTTPRoutes instead, one per route of each app, with
// one weighted backendRef per release track (a canary's weight is the
// HTTPRoute's), for the Gateway implementation the cluster already runs.
//
// The Reconciler is level-based like the app reconciler: each pass reads
// the environments from the store and makes every cluster agree, with
// server-side apply under the field manager "berth"; objects of an
// environment that is gone (or has changed routing mode) are deleted, and
// so are the gateway tokens of environments that are gone.
package clusterroute
