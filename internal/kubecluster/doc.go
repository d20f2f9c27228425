// Package kubecluster reaches a Kubernetes cluster: it turns a stored
// kubeconfig (or the in-cluster service account) into a client config,
// checks that the cluster answers and accepts the credentials, and reads
// what `berth cluster show` reports (version, nodes, capacity). Errors
// name the cluster and say whether it was unreachable or refused the
// credentials, so the user knows what to fix.
package kubecluster
