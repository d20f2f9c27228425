package spec

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Limits checked by validation.
const (
	MaxReplicas = 100
	MaxMaxSurge = 10
)

// Validate checks an App built in code (for one read by Parse, Parse has
// already done this). Defaults are applied to a copy first, so a is not
// changed. It returns a *ValidationError or nil.
func (a *App) Validate() error {
	c, err := a.clone()
	if err != nil {
		return err
	}
	c.SetDefaults()
	v := &validator{}
	v.app(c)
	if len(v.problems) > 0 {
		return &ValidationError{Problems: v.problems}
	}
	return nil
}

// validator collects the rule violations of an App with defaults applied.
type validator struct {
	problems []Problem
	// dec, when the App came from YAML, gives lines and the paths that
	// already failed to decode (those are not checked again).
	dec *decoder
}

func (v *validator) add(p, format string, args ...any) {
	line := 0
	if v.dec != nil {
		if v.dec.isFailed(p) {
			return
		}
		line = v.dec.lineOf(p)
	}
	v.problems = append(v.problems, Problem{Path: p, Message: fmt.Sprintf(format, args...), Line: line})
}

// decodeFailedBelow reports whether anything under p failed to decode, for
// rules about a whole object ("needs command or image") that a type error
// inside it would make wrong.
func (v *validator) decodeFailedBelow(p string) bool {
	return v.dec != nil && v.dec.failedBelow(p)
}

func (v *validator) app(a *App) {
	if msg := labelProblem(a.Name); msg != "" {
		v.add("name", "%s", labelMessage(msg))
	}
	if a.Source != nil {
		v.source(a.Source)
	}
	v.pipelineSection(a)
	if len(a.Services) == 0 {
		v.add("services", "at least one service is required")
	}
	for _, name := range sortedKeys(a.Services) {
		v.service(a, name, a.Services[name])
	}
	v.cycles(a)
	v.routes(a)
	v.strategy(a.Strategy)
}

// labelMessage words a labelProblem for a name field.
func labelMessage(msg string) string {
	if msg == "is required" {
		return msg
	}
	return msg + " (a name is 1-63 lowercase letters, digits and '-', starting with a letter)"
}

func (v *validator) service(a *App, name string, s *Service) {
	p := join("services", name)
	if msg := labelProblem(name); msg != "" {
		v.add(p, "service name %s", labelMessage(msg))
	}
	if s == nil {
		v.add(p, "needs command (to run locally) or image (to run on a cluster)")
		return
	}
	if len(s.Command) == 0 && s.Image == "" && !v.decodeFailedBelow(join(p, "command")) && !v.decodeFailedBelow(join(p, "image")) {
		v.add(p, "needs command (to run locally) or image (to run on a cluster)")
	}
	if len(s.Command) > 0 && s.Command[0] == "" {
		v.add(index(join(p, "command"), 0), "the program to run must not be empty")
	}
	if strings.ContainsRune(s.Build, 0) {
		v.add(join(p, "build"), "must not contain NUL characters")
	}
	v.noNUL(join(p, "command"), s.Command)
	v.noNUL(join(p, "args"), s.Args)
	if hasSpaceOrControl(s.Image) {
		v.add(join(p, "image"), "must not contain spaces or control characters")
	}
	if s.Dir != "" {
		clean := path.Clean(s.Dir)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || strings.ContainsRune(s.Dir, 0) {
			v.add(join(p, "dir"), "%s must be a relative path inside the app's folder", quoteShort(s.Dir))
		}
	}
	if s.Replicas != nil && (*s.Replicas < 0 || *s.Replicas > MaxReplicas) {
		v.add(join(p, "replicas"), "%d is out of range (0-%d)", *s.Replicas, MaxReplicas)
	}
	v.env(a, p, s)
	v.ports(p, s.Ports)
	if s.Health != nil {
		v.health(join(p, "health"), s)
	}
	v.resources(join(p, "resources"), s.Resources)
	if s.Autoscale != nil {
		v.autoscale(p, s)
	}
	v.volumes(join(p, "volumes"), s.Volumes)
	v.dependsOn(a, p, name, s.DependsOn)
	v.secrets(p, s)
	v.config(p, s.Config)
	if s.StopGracePeriod < 0 {
		v.add(join(p, "stop_grace_period"), "%s must not be negative", s.StopGracePeriod)
	}
}

func (v *validator) noNUL(p string, list []string) {
	for i, s := range list {
		if strings.ContainsRune(s, 0) {
			v.add(index(p, i), "must not contain NUL characters")
		}
	}
}

func (v *validator) env(a *App, p string, s *Service) {
	generated := map[string]string{}
	for _, dep := range s.DependsOn {
		u, ad := DependencyEnv(dep)
		generated[u], generated[ad] = dep, dep
	}
	for _, k := range sortedKeys(s.Env) {
		kp := join(join(p, "env"), k)
		switch {
		case !validEnvName(k):
			v.add(kp, "%s is not an environment variable name (letters, digits and '_', not starting with a digit)", quoteShort(k))
		case k == EnvPort:
			v.add(kp, "PORT is reserved: Berth sets it to the port the instance must listen on")
		case strings.HasPrefix(k, ReservedEnvPrefix):
			v.add(kp, "names starting with BERTH_ are reserved for variables Berth sets")
		case generated[k] != "":
			v.add(kp, "is set by Berth to the address of dependency %q", generated[k])
		case strings.ContainsRune(s.Env[k], 0):
			v.add(kp, "must not contain NUL characters")
		}
	}
}

func (v *validator) ports(p string, ports []Port) {
	pp := join(p, "ports")
	seenPort := map[int]int{}
	seenName := map[string]int{}
	for i, port := range ports {
		ip := index(pp, i)
		if port.Port < 1 || port.Port > 65535 {
			v.add(join(ip, "port"), "%d is not a port (1-65535)", port.Port)
		} else if j, dup := seenPort[port.Port]; dup {
			v.add(join(ip, "port"), "port %d is listed twice (also %s)", port.Port, index(pp, j))
		} else {
			seenPort[port.Port] = i
		}
		if port.Protocol != ProtocolHTTP && port.Protocol != ProtocolTCP {
			v.add(join(ip, "protocol"), "expected http or tcp, got %s", quoteShort(port.Protocol))
		}
		if port.Name != "" {
			if msg := labelProblem(port.Name); msg != "" {
				v.add(join(ip, "name"), "%s", labelMessage(msg))
			} else if j, dup := seenName[port.Name]; dup {
				v.add(join(ip, "name"), "name %q is used twice (also %s)", port.Name, index(pp, j))
			} else {
				seenName[port.Name] = i
			}
		}
	}
}

func (v *validator) health(p string, s *Service) {
	h := s.Health
	var set []string
	if h.HTTP != nil {
		set = append(set, "http")
	}
	if h.TCP != nil {
		set = append(set, "tcp")
	}
	if h.Exec != nil {
		set = append(set, "exec")
	}
	switch {
	case len(set) == 0 && !v.decodeFailedBelow(p):
		v.add(p, "needs exactly one check: http, tcp or exec")
	case len(set) > 1:
		v.add(p, "has %s; choose exactly one of http, tcp and exec", strings.Join(set, " and "))
	}
	if h.HTTP != nil {
		if !strings.HasPrefix(h.HTTP.Path, "/") {
			v.add(join(join(p, "http"), "path"), "%s must start with \"/\"", quoteShort(h.HTTP.Path))
		} else if hasSpaceOrControl(h.HTTP.Path) {
			v.add(join(join(p, "http"), "path"), "must not contain spaces or control characters")
		}
		v.portRef(join(join(p, "http"), "port"), h.HTTP.Port, s.Ports)
	}
	if h.TCP != nil {
		v.portRef(join(join(p, "tcp"), "port"), h.TCP.Port, s.Ports)
	}
	if h.Exec != nil {
		cp := join(join(p, "exec"), "command")
		if len(h.Exec.Command) == 0 || h.Exec.Command[0] == "" {
			v.add(cp, "must not be empty")
		}
		v.noNUL(cp, h.Exec.Command)
	}
	if h.InitialDelay < 0 {
		v.add(join(p, "initial_delay"), "%s must not be negative", h.InitialDelay)
	}
	if h.Interval <= 0 {
		v.add(join(p, "interval"), "%s must be greater than 0", h.Interval)
	}
	if h.Timeout <= 0 {
		v.add(join(p, "timeout"), "%s must be greater than 0", h.Timeout)
	} else if h.Interval > 0 && h.Timeout >= h.Interval && !v.decodeFailedBelow(join(p, "interval")) {
		v.add(join(p, "timeout"), "%s must be shorter than interval (%s)", h.Timeout, h.Interval)
	}
	if h.FailureThreshold < 1 {
		v.add(join(p, "failure_threshold"), "%d must be at least 1", h.FailureThreshold)
	}
	if h.SuccessThreshold < 1 {
		v.add(join(p, "success_threshold"), "%d must be at least 1", h.SuccessThreshold)
	}
}

// portRef checks a health check's port: 0 means the service's first port,
// so the service needs one; any other value must be one of its ports, since
// those are the ports the runtime maps (locally, to assigned ports).
func (v *validator) portRef(p string, port int, ports []Port) {
	if port == 0 {
		if len(ports) == 0 {
			v.add(p, "the service has no ports; add ports to the service or set a port here")
		}
		return
	}
	if !hasPort(ports, port) {
		v.add(p, "%d is not one of the service's ports (%s)", port, portList(ports))
	}
}

func hasPort(ports []Port, port int) bool {
	return slices.ContainsFunc(ports, func(p Port) bool { return p.Port == port })
}

func portList(ports []Port) string {
	if len(ports) == 0 {
		return "it has none"
	}
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p.Port)
	}
	return strings.Join(s, ", ")
}

func (v *validator) resources(p string, r Resources) {
	if _, err := r.MilliCPU(); err != nil {
		v.add(join(p, "cpu"), "%v", err)
	}
	if _, err := r.MemoryBytes(); err != nil {
		v.add(join(p, "memory"), "%v", err)
	}
}

func (v *validator) volumes(p string, vols []Volume) {
	names := map[string]int{}
	paths := map[string]int{}
	for i, vol := range vols {
		ip := index(p, i)
		if msg := labelProblem(vol.Name); msg != "" {
			v.add(join(ip, "name"), "%s", labelMessage(msg))
		} else if j, dup := names[vol.Name]; dup {
			v.add(join(ip, "name"), "volume %q is declared twice (also %s)", vol.Name, index(p, j))
		} else {
			names[vol.Name] = i
		}
		switch {
		case vol.Path == "":
			v.add(join(ip, "path"), "is required")
		case !strings.HasPrefix(vol.Path, "/"):
			v.add(join(ip, "path"), "%s must be an absolute path", quoteShort(vol.Path))
		case strings.ContainsRune(vol.Path, 0):
			v.add(join(ip, "path"), "must not contain NUL characters")
		default:
			clean := path.Clean(vol.Path)
			if j, dup := paths[clean]; dup {
				v.add(join(ip, "path"), "%s is already used by %s", quoteShort(vol.Path), index(p, j))
			} else {
				paths[clean] = i
			}
		}
		if _, err := vol.SizeBytes(); err != nil {
			v.add(join(ip, "size"), "%v", err)
		}
	}
}

func (v *validator) dependsOn(a *App, p, name string, deps []string) {
	dp := join(p, "depends_on")
	seen := map[string]int{}
	for i, dep := range deps {
		ip := index(dp, i)
		_, exists := a.Services[dep]
		switch {
		case dep == name:
			v.add(ip, "a service cannot depend on itself")
		case !exists:
			v.add(ip, "%s", unknownService(a, dep))
		}
		if j, dup := seen[dep]; dup {
			v.add(ip, "%s is listed twice (also %s)", quoteShort(dep), index(dp, j))
		} else {
			seen[dep] = i
		}
	}
}

func unknownService(a *App, name string) string {
	msg := fmt.Sprintf("unknown service %s", quoteShort(name))
	if s := suggest(name, sortedKeys(a.Services)); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg
}

func (v *validator) cycles(a *App) {
	for _, c := range findCycles(a, false) {
		v.add(join(join("services", c[0]), "depends_on"), "cycle %s", strings.Join(c, " -> "))
	}
}

func (v *validator) routes(a *App) {
	seen := map[string]int{}
	for i, r := range a.Routes {
		p := index("routes", i)
		if msg := hostProblem(r.Host); msg != "" {
			v.add(join(p, "host"), "%s", msg)
		}
		switch {
		case !strings.HasPrefix(r.Path, "/"):
			v.add(join(p, "path"), "%s must start with \"/\"", quoteShort(r.Path))
		case hasSpaceOrControl(r.Path) || strings.ContainsAny(r.Path, "?#"):
			v.add(join(p, "path"), "%s must be a plain URL path prefix (no spaces, '?' or '#')", quoteShort(r.Path))
		}
		v.routeTarget(a, p, r)
		v.routeMatch(p, r)
		v.routePolicy(p, r)
		key := routeKey(r)
		if j, dup := seen[key]; dup {
			also := ""
			if r.PathType != "" || len(r.Methods) > 0 || len(r.Headers) > 0 {
				also = " with the same path_type, methods and headers"
			}
			v.add(p, "host %s and path %s are already routed by %s%s", quoteShort(r.Host), quoteShort(r.Path), index("routes", j), also)
		} else {
			seen[key] = i
		}
	}
}

func (v *validator) routeTarget(a *App, p string, r Route) {
	if r.Service == "" {
		v.add(join(p, "service"), "is required")
		return
	}
	s, ok := a.Services[r.Service]
	if !ok {
		v.add(join(p, "service"), "%s", unknownService(a, r.Service))
		return
	}
	if s == nil {
		return
	}
	if len(s.Ports) == 0 {
		v.add(join(p, "service"), "service %q has no ports to route to", r.Service)
		return
	}
	port := s.Ports[0]
	if r.Port != 0 {
		i := slices.IndexFunc(s.Ports, func(sp Port) bool { return sp.Port == r.Port })
		if i < 0 {
			v.add(join(p, "port"), "%d is not a port of service %q (%s)", r.Port, r.Service, portList(s.Ports))
			return
		}
		port = s.Ports[i]
	}
	if port.Protocol == ProtocolTCP {
		v.add(join(p, "port"), "port %d of service %q is tcp; routes carry HTTP, so route to an http port", port.Port, r.Service)
	}
}

func (v *validator) strategy(s Strategy) {
	switch s.Type {
	case StrategyRecreate, StrategyRolling, StrategyCanary:
	default:
		v.add("strategy.type", "expected recreate, rolling or canary, got %s", quoteShort(s.Type))
	}
	v.canarySteps(s)
	if s.MaxSurge < 0 || s.MaxSurge > MaxMaxSurge {
		v.add("strategy.max_surge", "%d is out of range (0-%d)", s.MaxSurge, MaxMaxSurge)
	}
	if s.ProgressDeadline <= 0 {
		v.add("strategy.progress_deadline", "%s must be greater than 0", s.ProgressDeadline)
	}
}

func hasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// autoscale checks the range and the CPU target. A target needs a CPU
// request to be measured against, and replicas would contradict the range.
func (v *validator) autoscale(p string, s *Service) {
	a, ap := s.Autoscale, join(p, "autoscale")
	if s.Replicas != nil {
		v.add(join(p, "replicas"), "set either replicas or autoscale, not both: with autoscale the instance count is between autoscale.min and autoscale.max")
	}
	if a.Min < 1 || a.Min > MaxReplicas {
		v.add(join(ap, "min"), "%d is out of range (1-%d)", a.Min, MaxReplicas)
	}
	if a.Max < max(1, a.Min) || a.Max > MaxReplicas {
		v.add(join(ap, "max"), "%d is out of range (autoscale.min, %d, to %d)", a.Max, a.Min, MaxReplicas)
	}
	if a.CPU < 1 || a.CPU > 100 {
		v.add(join(ap, "cpu"), "%d is out of range: the target CPU use, in percent of resources.cpu (1-100)", a.CPU)
	} else if s.Resources.CPU == "" {
		v.add(join(ap, "cpu"), "needs %s: CPU use is measured against it", join(join(p, "resources"), "cpu"))
	}
}
