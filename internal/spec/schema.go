package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Schema returns a JSON Schema (draft 2020-12) for berth.yaml, generated from
// the types by reflection so it cannot drift from them. Editors use it for
// completion and early warnings; Parse remains the authority (it checks
// rules a schema cannot state, such as dependency cycles).
func Schema() ([]byte, error) {
	g := &schemaGen{defs: map[string]any{}}
	root := g.object(reflect.TypeFor[App]())
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://berth.dev/schema/berth.schema.json"
	root["title"] = "berth.yaml"
	root["$defs"] = g.defs
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<NAME>" readable in descriptions
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("spec: encode schema: %w", err)
	}
	return buf.Bytes(), nil
}

type schemaGen struct {
	defs map[string]any
}

const (
	labelPattern    = `^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`
	durationPattern = `^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$`
)

// object returns the schema of struct type t with its fields.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		sf := t.Field(i)
		name := jsonName(sf)
		if name == "" {
			continue
		}
		doc := fieldDocs[t.Name()+"."+name]
		s := g.schemaOf(sf.Type)
		if doc.Nullable {
			s = map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
		}
		if doc.Desc != "" {
			s["description"] = doc.Desc
		}
		if doc.Default != nil {
			s["default"] = doc.Default
		}
		for k, v := range doc.Schema {
			s[k] = v
		}
		props[name] = s
		if doc.Required {
			required = append(required, name)
		}
	}
	o := map[string]any{
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		sort.Strings(required)
		o["required"] = required
	}
	for k, v := range typeDocs[t.Name()] {
		o[k] = v
	}
	return o
}

func (g *schemaGen) schemaOf(t reflect.Type) map[string]any {
	switch {
	case t == durationType:
		return map[string]any{"type": "string", "pattern": durationPattern}
	case t == sectionType:
		// The pipeline file's shape; package pipeline checks it on Parse.
		return map[string]any{"type": "object"}
	case t == portType:
		return map[string]any{"oneOf": []any{
			map[string]any{"type": "integer", "minimum": 1, "maximum": 65535},
			g.ref(t),
		}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schemaOf(t.Elem())
	case reflect.Struct:
		return g.ref(t)
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schemaOf(t.Elem())}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schemaOf(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	}
	return map[string]any{}
}

// ref defines struct type t under $defs (once) and refers to it.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	if _, ok := g.defs[t.Name()]; !ok {
		g.defs[t.Name()] = nil // placeholder: stops recursion on cyclic types
		g.defs[t.Name()] = g.object(t)
	}
	return map[string]any{"$ref": "#/$defs/" + t.Name()}
}

// fieldDoc is what the schema says about one field beyond its Go type.
type fieldDoc struct {
	Desc     string
	Required bool
	Default  any
	// Nullable allows an empty value ("tcp:"), which Parse reads as {}.
	Nullable bool
	Schema   map[string]any // merged over the generated schema
}

func durationDefault(d Duration) string { return d.String() }

// fieldDocs is keyed by "<Go type>.<json name>". TestSchemaDocs checks that
// every field has an entry, so a new field cannot go undocumented.
var fieldDocs = map[string]fieldDoc{
	"App.name": {Desc: "The app's name: a DNS label (1-63 lowercase letters, digits and '-', starting with a letter).",
		Required: true, Schema: map[string]any{"pattern": labelPattern}},
	"App.source": {Desc: "Where pipelines fetch the app's code from."},
	"App.services": {Desc: "The app's services, by name (DNS labels). At least one.", Required: true,
		Schema: map[string]any{"minProperties": 1, "propertyNames": map[string]any{"pattern": labelPattern}}},
	"App.routes":   {Desc: "How the gateway sends HTTP requests to services."},
	"App.strategy": {Desc: "How a new release replaces the running one."},
	"App.pipeline": {Desc: "The app's pipeline, in the shape of .berth/pipeline.yaml; runs use it instead of a file in the repository. Not together with source.pipeline."},

	"Source.git":         {Desc: "Git URL of the app's repository.", Required: true, Schema: map[string]any{"minLength": 1, "pattern": "^[^-]"}},
	"Source.branch":      {Desc: "Branch to build; the repository's default branch when unset."},
	"Source.pipeline":    {Desc: "Path of the pipeline file in the repository. Default: .berth/pipeline.yaml.", Schema: map[string]any{"pattern": "^[^-/]"}},
	"Source.secret":      {Desc: "Name of the app's secret holding an access token (http(s) URL) or a PEM private key (ssh URL), for a private repository."},
	"Source.username":    {Desc: "User name sent with the token over http(s); default berth (GitLab accepts oauth2)."},
	"Source.known_hosts": {Desc: "known_hosts line(s) naming the SSH server's host key; required with an ssh URL."},
	"Source.status":      {Desc: "Report each run's commit status to this forge: github, gitea or gitlab. Needs secret (an access token).", Schema: map[string]any{"enum": []string{"github", "gitea", "gitlab"}}},
	"Source.status_url":  {Desc: "The forge's API base URL; derived from git when unset (https://api.github.com for github.com)."},

	"Service.build":   {Desc: "Shell command run in dir before the service starts (local runtime), e.g. \"go build -o bin/web ./web\"."},
	"Service.dir":     {Desc: "The service's folder, relative to the folder holding berth.yaml. Default: that folder."},
	"Service.image":   {Desc: "Container image that clusters run. A service needs command or image; the local runtime needs command."},
	"Service.command": {Desc: "Program and arguments to run, e.g. [\"./bin/web\"]. Also the container command on clusters."},
	"Service.args":    {Desc: "Extra arguments appended to command (or to the image's entrypoint)."},
	"Service.env": {Desc: "Environment variables. PORT and names starting with BERTH_ are reserved.",
		Schema: map[string]any{
			"additionalProperties": map[string]any{"type": []any{"string", "number", "boolean"}},
			"propertyNames": map[string]any{"pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
				"not": map[string]any{"anyOf": []any{map[string]any{"const": "PORT"}, map[string]any{"pattern": "^BERTH_"}}}},
		}},
	"Service.ports":             {Desc: "Ports the service listens on: numbers (shorthand) or {port, name, protocol}. Locally the first one is assigned and passed in PORT."},
	"Service.replicas":          {Desc: "Number of instances.", Default: DefaultReplicas, Schema: map[string]any{"minimum": 0, "maximum": MaxReplicas}},
	"Service.health":            {Desc: "How Berth decides an instance is ready. Without it, a running process counts as ready."},
	"Service.resources":         {Desc: "Per-instance limits."},
	"Service.volumes":           {Desc: "Persistent storage that outlives instances and releases."},
	"Service.depends_on":        {Desc: "Services started first; each gets <NAME>_URL and <NAME>_ADDR variables.", Schema: map[string]any{"uniqueItems": true}},
	"Service.secrets":           {Desc: "Names of the app's secrets (berth secret set) this service receives, each as an environment variable of the same name.", Schema: map[string]any{"uniqueItems": true, "items": map[string]any{"pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": MaxSecretNameLen}}},
	"Service.stop_grace_period": {Desc: "Time between SIGTERM and SIGKILL when an instance stops.", Default: durationDefault(DefaultStopGracePeriod)},
	"Service.config":            {Desc: "How the service takes a change of the app's config set: new instances (default), or its config files rewritten in place and a signal."},

	"ServiceConfig.reload": {Desc: "restart: a config change replaces the instances. signal: when only config files change, they are rewritten in place and each instance is sent signal (a change of a value taken as an environment variable still replaces them).", Default: ReloadRestart, Schema: map[string]any{"enum": []any{ReloadRestart, ReloadSignal}}},
	"ServiceConfig.signal": {Desc: "The signal sent with reload: signal.", Default: DefaultReloadSignal, Schema: map[string]any{"enum": []any{"SIGHUP", "SIGUSR1", "SIGUSR2"}}},

	"Service.autoscale": {Desc: "Lets a cluster scale the service between min and max instances by CPU use (a HorizontalPodAutoscaler), instead of replicas. The local runtime runs min instances."},
	"Autoscale.min":     {Desc: "Fewest instances.", Required: true, Schema: map[string]any{"minimum": 1, "maximum": MaxReplicas}},
	"Autoscale.max":     {Desc: "Most instances; at least min.", Required: true, Schema: map[string]any{"minimum": 1, "maximum": MaxReplicas}},
	"Autoscale.cpu":     {Desc: "Target CPU use, in percent of resources.cpu (which must be set), averaged over the instances.", Required: true, Schema: map[string]any{"minimum": 1, "maximum": 100}},

	"Port.port":     {Desc: "Port number.", Required: true, Schema: map[string]any{"minimum": 1, "maximum": 65535}},
	"Port.name":     {Desc: "Optional name (a DNS label), unique within the service.", Schema: map[string]any{"pattern": labelPattern}},
	"Port.protocol": {Desc: "http (routable by the gateway) or tcp.", Default: DefaultProtocol, Schema: map[string]any{"enum": []any{ProtocolHTTP, ProtocolTCP}}},

	"Health.http":              {Desc: "Ready when GET path answers 2xx or 3xx.", Nullable: true},
	"Health.tcp":               {Desc: "Ready when a TCP connection opens.", Nullable: true},
	"Health.exec":              {Desc: "Ready when a command exits 0."},
	"Health.initial_delay":     {Desc: "Wait before the first check.", Default: "0s"},
	"Health.interval":          {Desc: "Time between checks.", Default: durationDefault(DefaultHealthInterval)},
	"Health.timeout":           {Desc: "Time one check may take; shorter than interval. Default 1s, or half the interval when that is 1s or less.", Default: durationDefault(DefaultHealthTimeout)},
	"Health.failure_threshold": {Desc: "Consecutive failures that make a ready instance unhealthy.", Default: DefaultFailureThreshold, Schema: map[string]any{"minimum": 1}},
	"Health.success_threshold": {Desc: "Consecutive successes that make an instance ready.", Default: DefaultSuccessThreshold, Schema: map[string]any{"minimum": 1}},

	"HTTPCheck.path": {Desc: "Path to GET.", Default: DefaultHealthPath, Schema: map[string]any{"pattern": "^/"}},
	"HTTPCheck.port": {Desc: "One of the service's ports; default its first port.", Schema: map[string]any{"minimum": 1, "maximum": 65535}},
	"TCPCheck.port":  {Desc: "One of the service's ports; default its first port.", Schema: map[string]any{"minimum": 1, "maximum": 65535}},
	"ExecCheck.command": {Desc: "Program and arguments, run in the instance's folder (locally) or container.", Required: true,
		Schema: map[string]any{"minItems": 1}},

	"Resources.cpu": {Desc: "CPU limit: cores (\"0.5\", \"2\") or millicores (\"500m\").",
		Schema: map[string]any{"type": []any{"string", "number"}, "pattern": `^([0-9]+(\.[0-9]*)?|\.[0-9]+)m?$`}},
	"Resources.memory": {Desc: "Memory limit: bytes, or a number with Ki, Mi, Gi, Ti, Pi, Ei or k, M, G, T, P, E (\"256Mi\").",
		Schema: map[string]any{"type": []any{"string", "number"}, "pattern": quantityPattern}},

	"Volume.name": {Desc: "Volume name (a DNS label), unique within the service.", Required: true, Schema: map[string]any{"pattern": labelPattern}},
	"Volume.path": {Desc: "Absolute path where clusters mount the volume. Locally the volume is a folder given in BERTH_VOLUME_<NAME>.",
		Required: true, Schema: map[string]any{"pattern": "^/"}},
	"Volume.size": {Desc: "Requested size, a quantity like \"1Gi\" (clusters).",
		Schema: map[string]any{"type": []any{"string", "number"}, "pattern": quantityPattern}},

	"Route.host":      {Desc: "Hostname, or *.domain wildcard, the route matches.", Required: true},
	"Route.path":      {Desc: "URL path the route matches: a prefix, or the exact path with path_type exact.", Default: DefaultRoutePath, Schema: map[string]any{"pattern": "^/"}},
	"Route.service":   {Desc: "Service that receives the requests.", Required: true, Schema: map[string]any{"pattern": labelPattern}},
	"Route.port":      {Desc: "One of the service's (http) ports; default its first port.", Schema: map[string]any{"minimum": 1, "maximum": 65535}},
	"Route.path_type": {Desc: "prefix (/api matches /api and /api/...) or exact.", Default: PathPrefix, Schema: map[string]any{"enum": []any{PathPrefix, PathExact}}},
	"Route.methods": {Desc: "HTTP methods the route matches; any when unset.",
		Schema: map[string]any{"uniqueItems": true, "items": map[string]any{"type": "string", "pattern": tokenPattern}}},
	"Route.headers": {Desc: "Request headers that must all be present with exactly these values.",
		Schema: map[string]any{"propertyNames": map[string]any{"pattern": tokenPattern}}},
	"Route.sticky":          {Desc: "While a canary runs, keep each client on the release (stable or canary) it first got, by cookie."},
	"Route.timeout":         {Desc: "Time a whole request may take, retries included; 0 or unset: 60s."},
	"Route.retries":         {Desc: "Retry failed idempotent requests on another instance.", Nullable: true},
	"Route.circuit_breaker": {Desc: "Answer 503 at once while the service fails or is slow, instead of piling requests onto it.", Nullable: true},
	"Route.rate_limit":      {Desc: "Limit requests per client (token bucket)."},
	"Route.lb":              {Desc: "How an instance is picked: round_robin, or least_request (fewest requests in flight of two random instances).", Default: LBRoundRobin, Schema: map[string]any{"enum": []any{LBRoundRobin, LBLeastRequest}}},
	"Route.max_body": {Desc: "Largest request body, in bytes or with a suffix (\"10Mi\"); larger bodies get 413. Default 10Mi.",
		Schema: map[string]any{"type": []any{"string", "number"}, "pattern": quantityPattern}},

	"Retries.attempts":        {Desc: "Tries in all, the first included.", Default: DefaultRetryAttempts, Schema: map[string]any{"minimum": 1, "maximum": MaxRetryAttempts}},
	"Retries.per_try_timeout": {Desc: "Time one try may take to answer; unset: only the route's timeout."},
	"Retries.safe_methods": {Desc: "Methods retried besides GET, HEAD, OPTIONS, PUT, DELETE and TRACE, e.g. [POST] for a service whose POSTs are idempotent.",
		Schema: map[string]any{"uniqueItems": true, "items": map[string]any{"type": "string", "pattern": tokenPattern}}},

	"CircuitBreaker.error_ratio":          {Desc: "Open when this share of requests in the window failed (5xx or no answer). Default 0.5 when no other trigger is set.", Schema: map[string]any{"minimum": 0, "maximum": 1}},
	"CircuitBreaker.consecutive_failures": {Desc: "Open after this many failures in a row.", Schema: map[string]any{"minimum": 0}},
	"CircuitBreaker.latency_quantile":     {Desc: "The latency quantile compared with latency_threshold.", Default: DefaultBreakerLatencyQuantile, Schema: map[string]any{"minimum": 0, "maximum": 1}},
	"CircuitBreaker.latency_threshold":    {Desc: "Open when latency_quantile of the window's requests took longer than this."},
	"CircuitBreaker.window":               {Desc: "The sliding window the ratios and quantiles are over.", Default: durationDefault(DefaultBreakerWindow)},
	"CircuitBreaker.min_requests":         {Desc: "Requests in the window before error_ratio and latency count.", Default: DefaultBreakerMinRequests, Schema: map[string]any{"minimum": 1}},
	"CircuitBreaker.open_for":             {Desc: "How long the circuit stays open before a probe request is let through.", Default: durationDefault(DefaultBreakerOpenFor)},

	"RateLimit.rate":  {Desc: "Requests per second allowed per key (may be fractional: 0.5 is one every 2s).", Required: true, Schema: map[string]any{"exclusiveMinimum": 0, "maximum": MaxRateLimit}},
	"RateLimit.burst": {Desc: "Requests allowed at once above the rate (the bucket's size). Default: the rate, at least 1.", Schema: map[string]any{"minimum": 1}},
	"RateLimit.key": {Desc: "What a bucket belongs to: ip (the client's address), header:<Name> (e.g. header:X-API-Key) or jwt_sub (the subject auth verified; needs auth on the route).",
		Default: DefaultRateLimitKey, Schema: map[string]any{"pattern": "^(ip|jwt_sub|header:" + strings.TrimPrefix(tokenPattern, "^") + ")"}},

	"Route.auth":         {Desc: "Authenticate every request at the gateway, with a bearer JWT or an API key; the service gets the verified subject in X-Berth-Subject (client-sent copies are removed). Refused requests get 401."},
	"RouteAuth.jwt":      {Desc: "Accept bearer JWTs (RS256 or ES256) of an OpenID issuer."},
	"RouteAuth.api_keys": {Desc: "Accept one of these API keys, sent in a header."},
	"JWTAuth.issuer": {Desc: "The tokens' issuer (iss), where discovery finds the keys: an https URL (plain http only for a loopback host).", Required: true,
		Schema: map[string]any{"pattern": "^https?://"}},
	"JWTAuth.jwks_url": {Desc: "Where the issuer's keys are; default: from the issuer's discovery document.", Schema: map[string]any{"pattern": "^https?://"}},
	"JWTAuth.audiences": {Desc: "Audiences (aud) accepted: the client IDs tokens are minted for.", Required: true,
		Schema: map[string]any{"minItems": 1, "items": map[string]any{"type": "string", "minLength": 1}}},
	"APIKeyAuth.header": {Desc: "Header that carries the key.", Default: DefaultAPIKeyHeader, Schema: map[string]any{"pattern": tokenPattern}},
	"APIKeyAuth.keys": {Desc: "The SHA-256 digest of each key (64 hex characters; never the key itself) mapped to the subject the service is told.", Required: true,
		Schema: map[string]any{"minProperties": 1, "propertyNames": map[string]any{"pattern": "^[0-9a-fA-F]{64}$"},
			"additionalProperties": map[string]any{"type": "string", "minLength": 1, "maxLength": maxSubjectLen}}},

	"Strategy.type": {Desc: "recreate (stop all, then start), rolling (replace instances a few at a time) or canary (run the new release beside the serving one and move traffic to it by weight, in steps).",
		Default: DefaultStrategy, Schema: map[string]any{"enum": []any{StrategyRecreate, StrategyRolling, StrategyCanary}}},
	"Strategy.steps": {Desc: "Canary steps, in order: the canary's traffic weight and how long to hold it. After the last step's pause the release is promoted. No steps: the canary starts at weight 0 and is moved by hand (berth rollout --weight).",
		Schema: map[string]any{"maxItems": MaxCanarySteps}},

	"CanaryStep.weight": {Desc: "The canary's share of traffic in percent; greater than the step before.", Required: true, Schema: map[string]any{"minimum": 1, "maximum": 99}},
	"CanaryStep.pause":  {Desc: "How long the step lasts (from when it starts) before the next one. Unset: until berth rollout --weight, promote or abort."},
	"Strategy.max_surge": {Desc: "Extra instances a rolling update may start at once; 0 means the default.",
		Default: DefaultMaxSurge, Schema: map[string]any{"minimum": 0, "maximum": MaxMaxSurge}},
	"Strategy.progress_deadline": {Desc: "How long a release may take to become healthy before it is marked failed.",
		Default: durationDefault(DefaultProgressDeadline)},
}

// tokenPattern is an RFC 9110 token: method and header names.
const tokenPattern = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"

const quantityPattern = `^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`

// typeDocs adds to the schema of a whole type.
var typeDocs = map[string]map[string]any{
	"App": {"description": "A Berth app: services, routes and a release strategy."},
	"Service": {
		"description": "One component of the app.",
		"anyOf":       []any{map[string]any{"required": []any{"command"}}, map[string]any{"required": []any{"image"}}},
	},
	"Health": {
		"description": "Exactly one of http, tcp and exec.",
		"oneOf": []any{
			map[string]any{"required": []any{"http"}},
			map[string]any{"required": []any{"tcp"}},
			map[string]any{"required": []any{"exec"}},
		},
	},
	"Port":           {"description": "A port the service listens on."},
	"Autoscale":      {"description": "The instance range a cluster scales the service in, by CPU use."},
	"Source":         {"description": "Where pipelines fetch the app's code from."},
	"HTTPCheck":      {"description": "HTTP health check."},
	"TCPCheck":       {"description": "TCP health check."},
	"ExecCheck":      {"description": "Command health check."},
	"Resources":      {"description": "Limits per instance, in Kubernetes quantity notation."},
	"Volume":         {"description": "Persistent storage."},
	"Route":          {"description": "Sends requests for host and path to a service's port."},
	"Strategy":       {"description": "How a new release replaces the running one."},
	"CanaryStep":     {"description": "One traffic weight of a canary release."},
	"Retries":        {"description": "Retries of failed idempotent requests."},
	"CircuitBreaker": {"description": "Stops calling a failing service for a while."},
	"RateLimit":      {"description": "A token bucket per client."},
	"RouteAuth": {
		"description": "Edge authentication: jwt, api_keys, or both (either is accepted).",
		"anyOf":       []any{map[string]any{"required": []any{"jwt"}}, map[string]any{"required": []any{"api_keys"}}},
	},
	"JWTAuth":    {"description": "Bearer JWTs of an OpenID issuer."},
	"APIKeyAuth": {"description": "API keys, stored as their SHA-256 digests."},
}
