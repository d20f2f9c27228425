package spec

import "time"

// Defaults, in one place so docs/spec.md, the schema and the code agree.
const (
	DefaultReplicas         = 1
	DefaultHealthInterval   = Duration(5 * time.Second)
	DefaultHealthTimeout    = Duration(1 * time.Second)
	DefaultFailureThreshold = 3
	DefaultSuccessThreshold = 1
	DefaultHealthPath       = "/"
	DefaultProtocol         = ProtocolHTTP
	DefaultRoutePath        = "/"
	DefaultStrategy         = StrategyRolling
	DefaultMaxSurge         = 1
	DefaultProgressDeadline = Duration(2 * time.Minute)
	DefaultStopGracePeriod  = Duration(10 * time.Second)
)

// SetDefaults fills every unset field that has a default. It only fills zero
// values, so calling it twice changes nothing, and a zero that the user wrote
// (max_surge: 0) reads as unset: the types cannot tell the two apart.
func (a *App) SetDefaults() {
	for _, s := range a.Services {
		if s != nil {
			s.setDefaults()
		}
	}
	for i := range a.Routes {
		if a.Routes[i].Path == "" {
			a.Routes[i].Path = DefaultRoutePath
		}
	}
	if a.Strategy.Type == "" {
		a.Strategy.Type = DefaultStrategy
	}
	if a.Strategy.MaxSurge == 0 {
		a.Strategy.MaxSurge = DefaultMaxSurge
	}
	if a.Strategy.ProgressDeadline == 0 {
		a.Strategy.ProgressDeadline = DefaultProgressDeadline
	}
}

func (s *Service) setDefaults() {
	if s.Replicas == nil {
		r := DefaultReplicas
		s.Replicas = &r
	}
	for i := range s.Ports {
		if s.Ports[i].Protocol == "" {
			s.Ports[i].Protocol = DefaultProtocol
		}
	}
	if h := s.Health; h != nil {
		if h.Interval == 0 {
			h.Interval = DefaultHealthInterval
		}
		if h.Timeout == 0 {
			h.Timeout = DefaultHealthTimeout
			// A short interval the user chose must not make the default
			// timeout invalid (timeout < interval) behind their back.
			if h.Interval > 0 && h.Interval <= DefaultHealthTimeout {
				h.Timeout = h.Interval / 2
			}
		}
		if h.FailureThreshold == 0 {
			h.FailureThreshold = DefaultFailureThreshold
		}
		if h.SuccessThreshold == 0 {
			h.SuccessThreshold = DefaultSuccessThreshold
		}
		if h.HTTP != nil && h.HTTP.Path == "" {
			h.HTTP.Path = DefaultHealthPath
		}
	}
	if s.StopGracePeriod == 0 {
		s.StopGracePeriod = DefaultStopGracePeriod
	}
}

// ReplicaCount returns Replicas, or DefaultReplicas when it is unset.
func (s *Service) ReplicaCount() int {
	if s.Replicas == nil {
		return DefaultReplicas
	}
	return *s.Replicas
}
