package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
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

	"Source.git":    {Desc: "Git URL of the app's repository.", Required: true, Schema: map[string]any{"minLength": 1, "pattern": "^[^-]"}},
	"Source.branch": {Desc: "Branch to build; the repository's default branch when unset."},

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
	"Service.stop_grace_period": {Desc: "Time between SIGTERM and SIGKILL when an instance stops.", Default: durationDefault(DefaultStopGracePeriod)},

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

	"Route.host":    {Desc: "Hostname, or *.domain wildcard, the route matches.", Required: true},
	"Route.path":    {Desc: "URL path prefix the route matches.", Default: DefaultRoutePath, Schema: map[string]any{"pattern": "^/"}},
	"Route.service": {Desc: "Service that receives the requests.", Required: true, Schema: map[string]any{"pattern": labelPattern}},
	"Route.port":    {Desc: "One of the service's (http) ports; default its first port.", Schema: map[string]any{"minimum": 1, "maximum": 65535}},

	"Strategy.type": {Desc: "recreate (stop all, then start) or rolling (replace instances a few at a time).",
		Default: DefaultStrategy, Schema: map[string]any{"enum": []any{StrategyRecreate, StrategyRolling}}},
	"Strategy.max_surge": {Desc: "Extra instances a rolling update may start at once; 0 means the default.",
		Default: DefaultMaxSurge, Schema: map[string]any{"minimum": 0, "maximum": MaxMaxSurge}},
	"Strategy.progress_deadline": {Desc: "How long a release may take to become healthy before it is marked failed.",
		Default: durationDefault(DefaultProgressDeadline)},
}

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
	"Port":      {"description": "A port the service listens on."},
	"Source":    {"description": "Where pipelines fetch the app's code from."},
	"HTTPCheck": {"description": "HTTP health check."},
	"TCPCheck":  {"description": "TCP health check."},
	"ExecCheck": {"description": "Command health check."},
	"Resources": {"description": "Limits per instance, in Kubernetes quantity notation."},
	"Volume":    {"description": "Persistent storage."},
	"Route":     {"description": "Sends requests for host and path to a service's port."},
	"Strategy":  {"description": "How a new release replaces the running one."},
}
