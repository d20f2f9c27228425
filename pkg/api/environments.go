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
}

// Environment is where apps deployed to it run.
type Environment struct {
	Name string `json:"name"`
	// Team is the name of the team that owns it.
	Team         string    `json:"team,omitempty"`
	Cluster      string    `json:"cluster"`
	Namespace    string    `json:"namespace"`
	StorageClass string    `json:"storage_class,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}
