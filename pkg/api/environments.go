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
	CreatedAt     time.Time `json:"created_at"`
}
