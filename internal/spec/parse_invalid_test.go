package spec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// want is one expected problem: its exact path and a fragment of its message.
type want struct {
	path, msg string
}

// svc wraps service lines (indented under "  web:") in a minimal valid app.
func svc(lines string) string {
	return "name: app\nservices:\n  web:\n" + lines
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		yaml string
		want []want
	}{
		{
			desc: "empty document",
			yaml: "",
			want: []want{{"", "document is empty"}},
		},
		{
			desc: "autoscale out of range",
			yaml: svc("    command: [x]\n    resources: {cpu: 500m}\n    autoscale: {min: 0, max: 200, cpu: 101}\n"),
			want: []want{{"services.web.autoscale.min", "out of range (1-100)"}, {"services.web.autoscale.max", "out of range"},
				{"services.web.autoscale.cpu", "in percent of resources.cpu"}},
		},
		{
			desc: "autoscale below its min, with replicas, without a CPU request",
			yaml: svc("    command: [x]\n    replicas: 3\n    autoscale: {min: 4, max: 2, cpu: 70}\n"),
			want: []want{{"services.web.replicas", "either replicas or autoscale"}, {"services.web.autoscale.max", "autoscale.min, 4"},
				{"services.web.autoscale.cpu", "needs services.web.resources.cpu"}},
		},
		{
			desc: "comment only",
			yaml: "# nothing\n",
			want: []want{{"", "document is empty"}},
		},
		{
			desc: "top level is a list",
			yaml: "- a\n- b\n",
			want: []want{{"", "expected a mapping with name and services"}},
		},
		{
			desc: "YAML syntax error",
			yaml: "name: x\nservices: [\n",
			want: []want{{"", "invalid YAML"}},
		},
		{
			desc: "two documents",
			yaml: "name: x\n---\nname: y\n",
			want: []want{{"", "second YAML document"}},
		},
		{
			desc: "no name and no services",
			yaml: "routes: []\n",
			want: []want{{"name", "is required"}, {"services", "at least one service"}},
		},
		{
			desc: "name not a DNS label",
			yaml: "name: My_App\nservices: {web: {image: x}}\n",
			want: []want{{"name", "must start with a lowercase letter"}},
		},
		{
			desc: "name too long",
			yaml: "name: " + strings.Repeat("a", 64) + "\nservices: {web: {image: x}}\n",
			want: []want{{"name", "longer than 63"}},
		},
		{
			desc: "name ends with dash",
			yaml: "name: app-\nservices: {web: {image: x}}\n",
			want: []want{{"name", "must not end with '-'"}},
		},
		{
			desc: "unknown top-level field with suggestion",
			yaml: "name: app\nservice: {web: {image: x}}\n",
			want: []want{{"service", `did you mean "services"?`}, {"services", "at least one service"}},
		},
		{
			desc: "unknown service field with suggestion",
			yaml: svc("    comand: [x]\n    image: x\n"),
			want: []want{{"services.web.comand", `unknown field; did you mean "command"?`}},
		},
		{
			desc: "unknown field without suggestion lists the fields",
			yaml: svc("    image: x\n    colour: red\n"),
			want: []want{{"services.web.colour", "expected one of: args, autoscale, build, command"}},
		},
		{
			desc: "unknown field inside health",
			yaml: svc("    image: x\n    ports: [80]\n    health: {http: {pth: /}}\n"),
			want: []want{{"services.web.health.http.pth", `did you mean "path"?`}},
		},
		{
			desc: "replicas is a word",
			yaml: svc("    image: x\n    replicas: two\n"),
			want: []want{{"services.web.replicas", `expected an integer, got "two"`}},
		},
		{
			desc: "replicas is a float",
			yaml: svc("    image: x\n    replicas: 1.5\n"),
			want: []want{{"services.web.replicas", "expected an integer, got 1.5"}},
		},
		{
			desc: "replicas out of range",
			yaml: svc("    image: x\n    replicas: 101\n"),
			want: []want{{"services.web.replicas", "101 is out of range (0-100)"}},
		},
		{
			desc: "negative replicas",
			yaml: svc("    image: x\n    replicas: -1\n"),
			want: []want{{"services.web.replicas", "-1 is out of range"}},
		},
		{
			desc: "command is a string",
			yaml: svc("    command: ./web\n"),
			want: []want{{"services.web.command", `expected a list of strings, got "./web" (write ["./web"])`}},
		},
		{
			desc: "services is a list",
			yaml: "name: app\nservices: [web]\n",
			want: []want{{"services", "expected a mapping, got a list"}},
		},
		{
			desc: "service without command or image",
			yaml: svc("    ports: [80]\n"),
			want: []want{{"services.web", "needs command (to run locally) or image"}},
		},
		{
			desc: "empty service",
			yaml: svc(""),
			want: []want{{"services.web", "needs command"}},
		},
		{
			desc: "empty program",
			yaml: svc("    command: [\"\", x]\n"),
			want: []want{{"services.web.command[0]", "must not be empty"}},
		},
		{
			desc: "service name not a DNS label",
			yaml: "name: app\nservices:\n  Web_1: {image: x}\n",
			want: []want{{"services.Web_1", "service name \"Web_1\" must start with a lowercase letter"}},
		},
		{
			desc: "service name with a dot is quoted in the path",
			yaml: "name: app\nservices:\n  a.b: {image: x}\n",
			want: []want{{`services["a.b"]`, "may contain only lowercase letters"}},
		},
		{
			desc: "duplicate service names",
			yaml: "name: app\nservices:\n  web: {image: x}\n  web: {image: y}\n",
			want: []want{{"services.web", "duplicate key (first at line 3)"}},
		},
		{
			desc: "duplicate field",
			yaml: "name: app\nname: app2\nservices: {web: {image: x}}\n",
			want: []want{{"name", "duplicate key (first at line 1)"}},
		},
		{
			desc: "duplicate env key",
			yaml: svc("    image: x\n    env:\n      A: 1\n      A: 2\n"),
			want: []want{{"services.web.env.A", "duplicate key (first at line 6)"}},
		},
		{
			desc: "port out of range",
			yaml: "name: app\nservices:\n  api: {image: x, ports: [70000]}\n",
			want: []want{{"services.api.ports[0].port", "70000 is not a port (1-65535)"}},
		},
		{
			desc: "port zero in long form",
			yaml: svc("    image: x\n    ports: [{name: main}]\n"),
			want: []want{{"services.web.ports[0].port", "0 is not a port"}},
		},
		{
			desc: "port is a string",
			yaml: svc("    image: x\n    ports: [\"8080\"]\n"),
			want: []want{{"services.web.ports[0]", `expected a port number or a mapping, got "8080"`}},
		},
		{
			desc: "duplicate port and port name, bad protocol",
			yaml: svc("    image: x\n    ports: [{port: 80, name: a}, {port: 80, name: a, protocol: udp}]\n"),
			want: []want{
				{"services.web.ports[1].port", "port 80 is listed twice (also services.web.ports[0])"},
				{"services.web.ports[1].protocol", `expected http or tcp, got "udp"`},
				{"services.web.ports[1].name", `name "a" is used twice`},
			},
		},
		{
			desc: "bad env names",
			yaml: svc("    image: x\n    env: {1X: a, PORT: \"1\", BERTH_APP: x, ok_name: y}\n"),
			want: []want{
				{"services.web.env.1X", "not an environment variable name"},
				{"services.web.env.BERTH_APP", "reserved"},
				{"services.web.env.PORT", "PORT is reserved"},
			},
		},
		{
			desc: "env shadows a dependency address",
			yaml: "name: app\nservices:\n  web: {image: x, depends_on: [user-db], env: {USER_DB_ADDR: x}}\n  user-db: {image: y}\n",
			want: []want{{"services.web.env.USER_DB_ADDR", `address of dependency "user-db"`}},
		},
		{
			desc: "env value is a mapping",
			yaml: svc("    image: x\n    env: {A: {b: c}}\n"),
			want: []want{{"services.web.env.A", "expected a string, got a mapping"}},
		},
		{
			desc: "health without a check",
			yaml: svc("    image: x\n    health: {interval: 5s}\n"),
			want: []want{{"services.web.health", "needs exactly one check"}},
		},
		{
			desc: "health with two checks",
			yaml: svc("    image: x\n    ports: [80]\n    health: {http: {}, exec: {command: [x]}}\n"),
			want: []want{{"services.web.health", "has http and exec; choose exactly one"}},
		},
		{
			desc: "health durations",
			yaml: svc("    image: x\n    ports: [80]\n    health: {tcp: {}, interval: 2s, timeout: 2s, initial_delay: -1s}\n"),
			want: []want{
				{"services.web.health.initial_delay", "-1s must not be negative"},
				{"services.web.health.timeout", "2s must be shorter than interval (2s)"},
			},
		},
		{
			desc: "timeout set equal to a short interval",
			yaml: svc("    image: x\n    ports: [80]\n    health: {tcp: {}, interval: 1s, timeout: 1s}\n"),
			want: []want{{"services.web.health.timeout", "1s must be shorter than interval (1s)"}},
		},
		{
			desc: "negative interval",
			yaml: svc("    image: x\n    ports: [80]\n    health: {tcp: {}, interval: -5s}\n"),
			want: []want{{"services.web.health.interval", "-5s must be greater than 0"}},
		},
		{
			desc: "duration without unit",
			yaml: svc("    image: x\n    ports: [80]\n    health: {tcp: {}, timeout: 5}\n"),
			want: []want{{"services.web.health.timeout", `expected a duration like "5s" or "1m30s", got 5 (add a unit`}},
		},
		{
			desc: "duration garbage",
			yaml: svc("    image: x\n    stop_grace_period: soon\n"),
			want: []want{{"services.web.stop_grace_period", `expected a duration like "5s" or "1m30s", got "soon"`}},
		},
		{
			desc: "negative stop grace period",
			yaml: svc("    image: x\n    stop_grace_period: -1s\n"),
			want: []want{{"services.web.stop_grace_period", "must not be negative"}},
		},
		{
			desc: "health thresholds and http path",
			yaml: svc("    image: x\n    ports: [80]\n    health: {http: {path: healthz}, failure_threshold: -1, success_threshold: -2}\n"),
			want: []want{
				{"services.web.health.http.path", `"healthz" must start with "/"`},
				{"services.web.health.failure_threshold", "-1 must be at least 1"},
				{"services.web.health.success_threshold", "-2 must be at least 1"},
			},
		},
		{
			desc: "health port not a service port, tcp without ports",
			yaml: "name: app\nservices:\n  a: {image: x, ports: [80], health: {http: {port: 81}}}\n  b: {image: x, health: {tcp: {}}}\n",
			want: []want{
				{"services.a.health.http.port", "81 is not one of the service's ports (80)"},
				{"services.b.health.tcp.port", "the service has no ports"},
			},
		},
		{
			desc: "empty exec command",
			yaml: svc("    image: x\n    health: {exec: {command: []}}\n"),
			want: []want{{"services.web.health.exec.command", "must not be empty"}},
		},
		{
			desc: "bad cpu and memory",
			yaml: svc("    image: x\n    resources: {cpu: 2 cores, memory: 1GB}\n"),
			want: []want{
				{"services.web.resources.cpu", `"2 cores" is not a CPU quantity`},
				{"services.web.resources.memory", `did you mean "1G" or "1Gi"?`},
			},
		},
		{
			desc: "zero cpu and memory",
			yaml: svc("    image: x\n    resources: {cpu: 0m, memory: \"0\"}\n"),
			want: []want{
				{"services.web.resources.cpu", "must be greater than 0"},
				{"services.web.resources.memory", "must be greater than 0"},
			},
		},
		{
			desc: "volumes",
			yaml: svc("    image: x\n    volumes:\n      - {name: data, path: var/data, size: lots}\n      - {name: data, path: /a}\n      - {name: Other, path: /a/}\n      - {path: /b}\n"),
			want: []want{
				{"services.web.volumes[0].path", `"var/data" must be an absolute path`},
				{"services.web.volumes[0].size", `"lots" is not a size quantity`},
				{"services.web.volumes[1].name", `volume "data" is declared twice`},
				{"services.web.volumes[2].name", "must start with a lowercase letter"},
				{"services.web.volumes[2].path", "already used by services.web.volumes[1]"},
				{"services.web.volumes[3].name", "is required"},
			},
		},
		{
			desc: "bad secret names",
			yaml: "name: app\nservices:\n  web: {image: x, depends_on: [api], env: {TOKEN: a}, secrets: [DB_PASSWORD, 9x, PORT, BERTH_KEY, API_URL, TOKEN, DB_PASSWORD]}\n  api: {image: y}\n",
			want: []want{
				{"services.web.secrets[1]", "not a secret name"},
				{"services.web.secrets[2]", "PORT is reserved"},
				{"services.web.secrets[3]", "reserved for variables Berth sets"},
				{"services.web.secrets[4]", `address of dependency "api"`},
				{"services.web.secrets[5]", "also set in services.web.env.TOKEN"},
				{"services.web.secrets[6]", "listed twice (also services.web.secrets[0])"},
			},
		},
		{
			desc: "secrets is not a list of strings",
			yaml: svc("    image: x\n    secrets: {A: b}\n"),
			want: []want{{"services.web.secrets", ""}},
		},
		{
			desc: "dangling, self and duplicate depends_on",
			yaml: "name: app\nservices:\n  web: {image: x, depends_on: [apl, web, api, api]}\n  api: {image: x}\n",
			want: []want{
				{"services.web.depends_on[0]", `unknown service "apl"; did you mean "api"?`},
				{"services.web.depends_on[1]", "cannot depend on itself"},
				{"services.web.depends_on[3]", `"api" is listed twice (also services.web.depends_on[2])`},
			},
		},
		{
			desc: "dependency cycle",
			yaml: "name: app\nservices:\n  web: {image: x, depends_on: [api]}\n  api: {image: x, depends_on: [web]}\n",
			want: []want{{"services.api.depends_on", "cycle api -> web -> api"}},
		},
		{
			desc: "longer dependency cycle beside a fine service",
			yaml: "name: app\nservices:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n  c: {image: x, depends_on: [a]}\n  d: {image: x, depends_on: [a]}\n",
			want: []want{{"services.a.depends_on", "cycle a -> b -> c -> a"}},
		},
		{
			desc: "route to unknown service and bad host",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n  - {host: Shop.Local, service: wbe}\n  - {host: \"bad host\", service: web}\n"),
			want: []want{
				{"routes[0].host", "must be lowercase"},
				{"routes[0].service", `unknown service "wbe"; did you mean "web"?`},
				{"routes[1].host", "is not a hostname"},
			},
		},
		{
			desc: "route without host, bad path and port",
			yaml: svc("    image: x\n    ports: [80, {port: 5432, protocol: tcp}]\nroutes:\n  - {service: web, path: api, port: 81}\n  - {host: a.b, service: web, port: 5432}\n"),
			want: []want{
				{"routes[0].host", "is required"},
				{"routes[0].path", `"api" must start with "/"`},
				{"routes[0].port", `81 is not a port of service "web" (80, 5432)`},
				{"routes[1].port", "is tcp; routes carry HTTP"},
			},
		},
		{
			desc: "route to a service without ports, wildcard host",
			yaml: svc("    image: x\nroutes:\n  - {host: \"*.shop.localhost\", service: web}\n  - {host: \"*\", service: web}\n"),
			want: []want{
				{"routes[0].service", `service "web" has no ports`},
				{"routes[1].host", "is not a hostname"},
				{"routes[1].service", `service "web" has no ports`},
			},
		},
		{
			desc: "duplicate host and path",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n  - {host: a.localhost, service: web}\n  - {host: a.localhost, path: /, service: web}\n"),
			want: []want{{"routes[1]", `host "a.localhost" and path "/" are already routed by routes[0]`}},
		},
		{
			desc: "canary steps out of range and out of order",
			yaml: svc("    image: x\nstrategy:\n  type: canary\n  steps:\n    - {weight: 50, pause: 1m}\n    - {weight: 20}\n    - {weight: 100}\n    - {pause: -5s, weight: 60}\n    - {pause: 5m}\n"),
			want: []want{
				{"strategy.steps[1].weight", "20 must be greater than the weight of strategy.steps[0] (50)"},
				{"strategy.steps[2].weight", "100 is out of range (1-99"},
				{"strategy.steps[3].pause", "-5s must not be negative"},
				{"strategy.steps[4].weight", "is required"},
			},
		},
		{
			desc: "canary step equal to the one before",
			yaml: svc("    image: x\nstrategy: {type: canary, steps: [{weight: 10}, {weight: 10}]}\n"),
			want: []want{{"strategy.steps[1].weight", "10 must be greater than the weight of strategy.steps[0] (10)"}},
		},
		{
			desc: "canary step types",
			yaml: svc("    image: x\nstrategy: {type: canary, steps: [{weight: ten, pause: 5}, 10]}\n"),
			want: []want{
				{"strategy.steps[0].weight", `expected an integer, got "ten"`},
				{"strategy.steps[0].pause", `add a unit`},
				{"strategy.steps[1]", "expected a mapping, got 10"},
			},
		},
		{
			desc: "steps without type canary",
			yaml: svc("    image: x\nstrategy: {steps: [{weight: 10}]}\n"),
			want: []want{{"strategy.steps", `steps are only used by type canary (type is "rolling")`}},
		},
		{
			desc: "route match fields",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n  - host: a.localhost\n    service: web\n    path_type: regex\n    methods: [GET, \"PO ST\", get]\n    headers: {\"X Bad\": v, X-Ok: \"a\\nb\"}\n"),
			want: []want{
				{"routes[0].path_type", `expected prefix or exact, got "regex"`},
				{"routes[0].methods[1]", `"PO ST" is not an HTTP method name`},
				{"routes[0].methods[2]", `"get" is listed twice (also routes[0].methods[0])`},
				{`routes[0].headers["X Bad"]`, `"X Bad" is not a header name`},
				{"routes[0].headers.X-Ok", "control characters"},
			},
		},
		{
			desc: "route policies",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n  - host: a.localhost\n    service: web\n    timeout: -1s\n    lb: random\n    max_body: 10MB\n" +
				"    retries: {attempts: 11, per_try_timeout: -1s, safe_methods: [\"P OST\"]}\n" +
				"    circuit_breaker: {error_ratio: 1.5, consecutive_failures: -1, latency_quantile: 0.9, window: 1ms, min_requests: -2, open_for: -1s}\n" +
				"    rate_limit: {rate: 0, burst: -1, key: cookie}\n"),
			want: []want{
				{"routes[0].timeout", "-1s must not be negative"},
				{"routes[0].lb", `expected round_robin or least_request, got "random"`},
				{"routes[0].max_body", `did you mean "10M" or "10Mi"?`},
				{"routes[0].retries.attempts", "11 is out of range (1-10"},
				{"routes[0].retries.per_try_timeout", "must not be negative"},
				{"routes[0].retries.safe_methods[0]", "is not an HTTP method name"},
				{"routes[0].circuit_breaker.error_ratio", "1.5 is not a ratio (0-1)"},
				{"routes[0].circuit_breaker.consecutive_failures", "-1 must not be negative"},
				{"routes[0].circuit_breaker.latency_quantile", "is set but latency_threshold is not"},
				{"routes[0].circuit_breaker.window", "1ms is too short (at least 10ms)"},
				{"routes[0].circuit_breaker.min_requests", "-2 must be at least 1"},
				{"routes[0].circuit_breaker.open_for", "-1s must be greater than 0"},
				{"routes[0].rate_limit.rate", "0 is out of range"},
				{"routes[0].rate_limit.burst", "-1 must be at least 1"},
				{"routes[0].rate_limit.key", `expected ip, header:<Name> or jwt_sub, got "cookie"`},
			},
		},
		{
			desc: "route policy types",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n  - {host: a.localhost, service: web, sticky: yes please, circuit_breaker: {error_ratio: half}, rate_limit: {rate: .nan, key: \"header:\"}}\n"),
			want: []want{
				{"routes[0].sticky", `expected true or false, got "yes please"`},
				{"routes[0].circuit_breaker.error_ratio", `expected a number, got "half"`},
				{"routes[0].rate_limit.rate", "expected a number, got .nan"},
				{"routes[0].rate_limit.key", `"header:": "" is not a header name`},
			},
		},
		{
			desc: "rate limit by jwt subject needs auth",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n  - {host: a.localhost, service: web, rate_limit: {rate: 5, key: jwt_sub}}\n"),
			want: []want{{"routes[0].rate_limit.key", "jwt_sub needs an auth policy"}},
		},
		{
			desc: "auth with neither jwt nor api_keys",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n  - {host: a.localhost, service: web, auth: {}}\n"),
			want: []want{{"routes[0].auth", "set jwt or api_keys (or both)"}},
		},
		{
			desc: "auth jwt fields",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n" +
				"  - {host: a.localhost, service: web, auth: {jwt: {issuer: \"http://idp.example.com\", jwks_url: \"https://idp.example.com/keys?x=1\"}}}\n" +
				"  - {host: b.localhost, service: web, auth: {jwt: {audiences: [shop, \" \"]}}}\n" +
				"  - {host: c.localhost, service: web, auth: {jwt: {issuer: \"ftp://idp\", audiences: [shop]}}}\n"),
			want: []want{
				{"routes[0].auth.jwt.issuer", `"http://idp.example.com" must use https (plain http only for a loopback host)`},
				{"routes[0].auth.jwt.jwks_url", "is not an absolute URL without user, query or fragment"},
				{"routes[0].auth.jwt.audiences", "at least one audience is required"},
				{"routes[1].auth.jwt.issuer", "is required (an https URL)"},
				{"routes[1].auth.jwt.audiences[1]", "must not be empty"},
				{"routes[2].auth.jwt.issuer", `"ftp://idp" must be an https URL`},
			},
		},
		{
			desc: "auth api_keys: a plain key instead of its digest is not echoed",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n  - host: a.localhost\n    service: web\n    auth:\n      api_keys:\n        header: Authorization\n        keys:\n" +
				"          s3cret-plain-key: alice\n" +
				"          " + strings.Repeat("ab", 32) + ": \" \"\n" +
				"          " + strings.Repeat("AB", 32) + ": bob\n" +
				"          " + strings.Repeat("0f", 32) + ": \"eve\\nX-Admin: 1\"\n"),
			want: []want{
				{"routes[0].auth.api_keys.header", "must not be Authorization"},
				{"routes[0].auth.api_keys.keys", "an entry of 16 characters is not a SHA-256 digest"},
				{"routes[0].auth.api_keys.keys", "a digest is listed twice"},
				{"routes[0].auth.api_keys.keys." + strings.Repeat("ab", 32), "the subject must not be empty"},
				{"routes[0].auth.api_keys.keys." + strings.Repeat("0f", 32), "must not contain control characters"},
			},
		},
		{
			desc: "auth api_keys without keys, on a reserved header",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n  - {host: a.localhost, service: web, auth: {api_keys: {header: X-Berth-Subject}}}\n"),
			want: []want{
				{"routes[0].auth.api_keys.header", `"X-Berth-Subject" is reserved for the gateway`},
				{"routes[0].auth.api_keys.keys", "at least one key is required"},
			},
		},
		{
			desc: "auth of the wrong types",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n  - {host: a.localhost, service: web, auth: {jwt: yes, api_keys: {keys: [a]}, oidc: {}}}\n"),
			want: []want{
				{"routes[0].auth.jwt", "expected a mapping"},
				{"routes[0].auth.api_keys.keys", "expected a mapping"},
				{"routes[0].auth.oidc", "unknown field"},
			},
		},
		{
			desc: "duplicate route with the same conditions",
			yaml: svc("    image: x\n    ports: [80]\nroutes:\n  - {host: a.localhost, service: web, methods: [GET, POST]}\n  - {host: a.localhost, service: web, methods: [post, get]}\n  - {host: a.localhost, service: web, methods: [PUT]}\n"),
			want: []want{{"routes[1]", `already routed by routes[0] with the same path_type, methods and headers`}},
		},
		{
			desc: "strategy ranges",
			yaml: svc("    image: x\nstrategy: {type: blue-green, max_surge: 11, progress_deadline: -1m}\n"),
			want: []want{
				{"strategy.type", `expected recreate, rolling or canary, got "blue-green"`},
				{"strategy.max_surge", "11 is out of range (0-10)"},
				{"strategy.progress_deadline", "-1m0s must be greater than 0"},
			},
		},
		{
			desc: "source",
			yaml: svc("    image: x\nsource: {git: --upload-pack=evil, branch: -x}\n"),
			want: []want{
				{"source.git", "must not start with '-'"},
				{"source.branch", "must not start with '-'"},
			},
		},
		{
			desc: "source without git",
			yaml: svc("    image: x\nsource: {branch: main}\n"),
			want: []want{{"source.git", "is required"}},
		},
		{
			desc: "NUL characters",
			yaml: svc("    build: \"make\\0\"\n    command: [\"a\\0\"]\n    env: {A: \"\\0\"}\n"),
			want: []want{
				{"services.web.build", "NUL"},
				{"services.web.command[0]", "NUL"},
				{"services.web.env.A", "NUL"},
			},
		},
		{
			desc: "dir outside the app",
			yaml: svc("    command: [x]\n    dir: ../other\n"),
			want: []want{{"services.web.dir", "relative path inside the app's folder"}},
		},
		{
			desc: "bad merge key",
			yaml: svc("    <<: [1, 2]\n    image: x\n"),
			want: []want{{"services.web", "merge key (<<) needs a mapping"}},
		},
		{
			desc: "non-string mapping key",
			yaml: svc("    image: x\n    env: {[a]: b}\n"),
			want: []want{{"services.web.env", "mapping keys must be strings"}},
		},
		{
			desc: "custom tag",
			yaml: svc("    image: !secret x\n"),
			want: []want{{"services.web.image", `expected a string, got "x" with tag !secret`}},
		},
		{
			desc: "integer overflow",
			yaml: svc("    image: x\n    replicas: 99999999999999999999\n"),
			want: []want{{"services.web.replicas", "expected an integer"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			a, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", a)
			}
			if a != nil {
				t.Error("Parse returned an app with an error")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError: %v", err, err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Error("errors.Is(err, ErrInvalid) = false")
			}
			assertProblems(t, ve.Problems, tt.want)
		})
	}
}

// assertProblems checks that got holds exactly the wanted paths (as a
// multiset) and that each message holds the wanted fragment.
func assertProblems(t *testing.T, got []Problem, wants []want) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, p := range got {
			if !used[i] && p.Path == w.path && strings.Contains(p.Message, w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %s: ...%s...", w.path, w.msg)
		}
	}
	for i, p := range got {
		if !used[i] {
			t.Errorf("unexpected problem %s: %s (line %d)", p.Path, p.Message, p.Line)
		}
	}
	if t.Failed() {
		t.Logf("all problems:\n%s", formatProblems(got))
	}
}

func formatProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %d %s: %s\n", p.Line, p.Path, p.Message)
	}
	return b.String()
}
