// Package envroute is the runtime the reconciler talks to when apps run
// in different places: it sends each app's workloads to the runtime of
// the app's environment (a Kubernetes namespace, opened on first use)
// and the apps without one to the default (local) runtime. It
// implements runtime.Runtime itself, so the reconciler is unchanged.
package envroute
