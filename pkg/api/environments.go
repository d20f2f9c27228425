package api

import "time"

// EnvironmentRequest creates an environment: a namespace of a cluster.
type EnvironmentRequest struct {
	Name string `json:"name"`
	// Team (name or ID) owns it; "" means the caller's only team in
	// which they may manage environments.
	Team      string `json:"team,omitempty"`
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// StorageClass of the environment's volume claims; "" for the
	// cluster's default.
	StorageClass string `json:"storage_class,omitempty"`
	// Routing is how traffic reaches the environment's apps: "gateway"
	// (default: Berth runs its gateway in the namespace) or "gateway-api"
	// (Berth writes Gateway API HTTPRoutes for the cluster's own
	// implementation, attached to GatewayParent).
	Routing string `json:"routing,omitempty"`
	// GatewayParent is the Gateway HTTPRoutes attach to, "NAME" (in the
	// environment's namespace) or "NAMESPACE/NAME"; routing gateway-api
	// only, and required there.
	GatewayParent string `json:"gateway_parent,omitempty"`
	// TLSSecrets name kubernetes.io/tls Secrets in the namespace (the
	// operator's, e.g. cert-manager's) that the environment's gateway
	// serves HTTPS with on port 443, each certificate by SNI; routing
	// gateway only.
	TLSSecrets []string `json:"tls_secrets,omitempty"`
}

// EnvironmentUpdate changes an environment's settings; a field left out
// (null) is kept.
type EnvironmentUpdate struct {
	// TLSSecrets replaces the list; [] removes HTTPS.
	TLSSecrets *[]string `json:"tls_secrets,omitempty"`
}

// Routing modes of an environment.
const (
	RoutingGateway    = "gateway"
	RoutingGatewayAPI = "gateway-api"
)

// Environment is where apps deployed to it run.
type Environment struct {
	Name string `json:"name"`
	// Team is the name of the team that owns it.
	Team          string    `json:"team,omitempty"`
	Cluster       string    `json:"cluster"`
	Namespace     string    `json:"namespace"`
	StorageClass  string    `json:"storage_class,omitempty"`
	Routing       string    `json:"routing"`
	GatewayParent string    `json:"gateway_parent,omitempty"`
	TLSSecrets    []string  `json:"tls_secrets,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	// Status is what Berth last saw of the environment's routing on its
	// cluster; only GET /api/v1/envs/{env} fills it.
	Status *EnvironmentStatus `json:"status,omitempty"`
}

// EnvironmentStatus is what the routing reconciler last saw of an
// environment's gateway in its cluster.
type EnvironmentStatus struct {
	// Gateway is GatewayReady, GatewayProgressing, GatewayDegraded or
	// GatewayUnknown ("" before the reconciler looked).
	Gateway  string `json:"gateway,omitempty"`
	Replicas int    `json:"replicas"`
	Ready    int    `json:"ready"`
	// Image is the image the gateway's pods run.
	Image string `json:"image,omitempty"`
	// TLSSecrets is each configured Secret as found in the namespace.
	TLSSecrets []TLSSecretStatus `json:"tls_secrets,omitempty"`
	// Problems are what stops the gateway from serving as configured,
	// each saying what to do about it.
	Problems  []string  `json:"problems,omitempty"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// States of an environment's gateway.
const (
	GatewayReady       = "ready"       // every replica ready
	GatewayProgressing = "progressing" // rolling out or starting
	GatewayDegraded    = "degraded"    // a replica cannot start (e.g. its image cannot be pulled)
	GatewayUnknown     = "unknown"     // the cluster could not be read
)

// TLSSecretStatus is one TLS Secret of an environment's gateway.
type TLSSecretStatus struct {
	Name string `json:"name"`
	// Served says the gateway serves its certificate (it is mounted).
	Served bool `json:"served"`
	// Names are the DNS names (and IPs) the certificate covers.
	Names    []string  `json:"names,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	// Error says why it is not served: missing, of another type, not a
	// certificate and key that belong together.
	Error string `json:"error,omitempty"`
}
