package api

import "time"

// ClusterRequest adds a Kubernetes cluster. Kubeconfig is the file's text;
// only Context's cluster and user are kept (Context "" is its current
// context). InCluster uses the server's own service account instead (the
// server runs in the cluster) and takes no kubeconfig.
type ClusterRequest struct {
	Name       string `json:"name"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
	InCluster  bool   `json:"in_cluster,omitempty"`
}

// Cluster is a cluster Berth deploys to. Its credentials are never sent
// back.
type Cluster struct {
	Name      string        `json:"name"`
	Server    string        `json:"server"`
	Context   string        `json:"context,omitempty"`
	InCluster bool          `json:"in_cluster,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	Health    ClusterHealth `json:"health"`
}

// ClusterHealth is what the cluster answered when asked just now.
type ClusterHealth struct {
	// Status is ClusterHealthy, ClusterUnreachable, ClusterUnauthorized,
	// ClusterUntrusted, ClusterForbidden or ClusterError.
	Status string `json:"status"`
	// Message says what went wrong, naming the cause ("" when healthy).
	Message           string    `json:"message,omitempty"`
	Version           string    `json:"version,omitempty"`
	Nodes             int       `json:"nodes"`
	ReadyNodes        int       `json:"ready_nodes"`
	AllocatableCPU    string    `json:"allocatable_cpu,omitempty"`
	AllocatableMemory string    `json:"allocatable_memory,omitempty"`
	AllocatablePods   int64     `json:"allocatable_pods,omitempty"`
	CheckedAt         time.Time `json:"checked_at"`
}

// Cluster health statuses.
const (
	ClusterHealthy      = "healthy"
	ClusterUnreachable  = "unreachable"
	ClusterUnauthorized = "unauthorized"
	ClusterUntrusted    = "untrusted"
	ClusterForbidden    = "forbidden"
	ClusterError        = "error"
)
