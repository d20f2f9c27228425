package spec

import (
	"errors"
	"strings"
	"testing"
)

// One spec with many independent mistakes gets all of them back, in line
// order, each with its line.
func TestParseReturnsEveryProblem(t *testing.T) {
	t.Parallel()
	src := `name: Bad_Name
services:
  web:
    comand: [./web]
    replicas: many
    ports: [0, 8080, 8080]
    env: {PORT: "1", fine: ok}
    health: {http: {path: nope}, timeout: 9s, interval: 3s}
    depends_on: [ghost]
  api:
    image: api
    depends_on: [worker]
  worker:
    image: worker
    depends_on: [api]
routes:
  - {host: shop.localhost, service: nowhere}
strategy: {type: blue-green}
`
	_, err := Parse([]byte(src))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse = %v", err)
	}
	wantLines := []struct {
		line int
		path string
	}{
		{1, "name"},
		{3, "services.web"},
		{4, "services.web.comand"},
		{5, "services.web.replicas"},
		{6, "services.web.ports[0].port"},
		{6, "services.web.ports[2].port"},
		{7, "services.web.env.PORT"},
		{8, "services.web.health.http.path"},
		{8, "services.web.health.timeout"},
		{9, "services.web.depends_on[0]"},
		{12, "services.api.depends_on"},
		{17, "routes[0].service"},
		{18, "strategy.type"},
	}
	if len(ve.Problems) != len(wantLines) {
		t.Fatalf("got %d problems, want %d:\n%s", len(ve.Problems), len(wantLines), formatProblems(ve.Problems))
	}
	for i, w := range wantLines {
		if p := ve.Problems[i]; p.Line != w.line || p.Path != w.path {
			t.Errorf("problem %d = line %d %s, want line %d %s", i, p.Line, p.Path, w.line, w.path)
		}
	}
	lines := strings.Split(ve.Error(), "\n")
	if len(lines) != len(wantLines) || lines[2] != `services.web.comand: unknown field; did you mean "command"?` {
		t.Errorf("Error() =\n%s", ve.Error())
	}
	d := strings.Split(ve.Detailed("berth.yaml"), "\n")
	if d[3] != `berth.yaml:5: services.web.replicas: expected an integer, got "many"` {
		t.Errorf("Detailed()[3] = %q", d[3])
	}
}

func TestProblemWithoutPath(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("name: [unclosed\n"))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Fatalf("Parse = %v", err)
	}
	if p := ve.Problems[0]; p.Path != "" || p.Line == 0 || !strings.HasPrefix(ve.Error(), "invalid YAML: ") {
		t.Errorf("problem = %+v, Error() = %q", p, ve.Error())
	}
}
