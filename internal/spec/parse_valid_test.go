package spec

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func mustParseFile(t *testing.T, name string) *App {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "valid", name))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return a
}

func TestParseValidFiles(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "valid", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid specs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			a := mustParseFile(t, filepath.Base(f))
			c1, err := a.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			// Canonical JSON is itself a valid spec that gives the same JSON.
			b, err := Parse(c1)
			if err != nil {
				t.Fatalf("re-parse canonical: %v\n%s", err, c1)
			}
			c2, err := b.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c1, c2) {
				t.Errorf("canonical JSON changed on re-parse:\n%s\n%s", c1, c2)
			}
		})
	}
}

func TestParseDesignExample(t *testing.T) {
	t.Parallel()
	a := mustParseFile(t, "design.yaml")
	if a.Name != "shop" || a.Source == nil || a.Source.Git != "https://git.example.com/team/shop.git" || a.Source.Branch != "main" {
		t.Errorf("name/source = %q %+v", a.Name, a.Source)
	}
	web := a.Services["web"]
	if web == nil {
		t.Fatal("no web service")
	}
	if got := web.Command; !reflect.DeepEqual(got, []string{"./bin/web"}) {
		t.Errorf("command = %q", got)
	}
	if web.Build != "go build -o bin/web ./web" || web.Image != "registry.example.com/shop/web:1.4.2" {
		t.Errorf("build/image = %q %q", web.Build, web.Image)
	}
	if want := []Port{{Port: 8080, Protocol: "http"}}; !reflect.DeepEqual(web.Ports, want) {
		t.Errorf("ports = %+v, want %+v", web.Ports, want)
	}
	if *web.Replicas != 2 || web.Env["LOG_LEVEL"] != "info" {
		t.Errorf("replicas/env = %d %v", *web.Replicas, web.Env)
	}
	wantHealth := &Health{
		HTTP:     &HTTPCheck{Path: "/healthz"},
		Interval: Duration(5 * time.Second), Timeout: Duration(time.Second),
		FailureThreshold: 3, SuccessThreshold: 1,
	}
	if !reflect.DeepEqual(web.Health, wantHealth) {
		t.Errorf("health = %+v, want %+v", web.Health, wantHealth)
	}
	if cpu, _ := web.Resources.MilliCPU(); cpu != 500 {
		t.Errorf("cpu = %d", cpu)
	}
	if mem, _ := web.Resources.MemoryBytes(); mem != 256<<20 {
		t.Errorf("memory = %d", mem)
	}
	api := a.Services["api"]
	if *api.Replicas != 1 || api.StopGracePeriod != DefaultStopGracePeriod || api.Health != nil {
		t.Errorf("api defaults: replicas %d grace %s health %v", *api.Replicas, api.StopGracePeriod, api.Health)
	}
	if want := []Volume{{Name: "data", Path: "/var/lib/api", Size: "1Gi"}}; !reflect.DeepEqual(api.Volumes, want) {
		t.Errorf("volumes = %+v", api.Volumes)
	}
	if want := []Route{{Host: "shop.localhost", Path: "/", Service: "web"}}; !reflect.DeepEqual(a.Routes, want) {
		t.Errorf("routes = %+v", a.Routes)
	}
	want := Strategy{Type: StrategyRolling, MaxSurge: 1, ProgressDeadline: Duration(2 * time.Minute)}
	if !reflect.DeepEqual(a.Strategy, want) {
		t.Errorf("strategy = %+v, want %+v", a.Strategy, want)
	}
	order, err := Order(a)
	if err != nil || !reflect.DeepEqual(order, []string{"api", "web"}) {
		t.Errorf("Order = %v, %v", order, err)
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	a, err := Parse([]byte(`
name: d
services:
  s:
    command: [x]
    ports: [1234]
    health: {http: {}}
routes: [{host: d.localhost, service: s}]
`))
	if err != nil {
		t.Fatal(err)
	}
	s := a.Services["s"]
	want := &Service{
		Command:  []string{"x"},
		Ports:    []Port{{Port: 1234, Protocol: ProtocolHTTP}},
		Replicas: ptr(1),
		Health: &Health{
			HTTP:     &HTTPCheck{Path: "/"},
			Interval: Duration(5 * time.Second), Timeout: Duration(time.Second),
			FailureThreshold: 3, SuccessThreshold: 1,
		},
		StopGracePeriod: Duration(10 * time.Second),
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("service =\n%+v\nwant\n%+v", s, want)
	}
	if s.ReplicaCount() != 1 || (&Service{}).ReplicaCount() != 1 || mustParseFile(t, "exec.yaml").Services["worker"].ReplicaCount() != 0 {
		t.Error("ReplicaCount wrong")
	}
	if a.Routes[0].Path != "/" {
		t.Errorf("route path = %q", a.Routes[0].Path)
	}
	if !reflect.DeepEqual(a.Strategy, Strategy{Type: "rolling", MaxSurge: 1, ProgressDeadline: Duration(2 * time.Minute)}) {
		t.Errorf("strategy = %+v", a.Strategy)
	}
	// SetDefaults is idempotent.
	before, _ := a.Canonical()
	a.SetDefaults()
	a.SetDefaults()
	after, _ := a.Canonical()
	if !bytes.Equal(before, after) {
		t.Errorf("SetDefaults not idempotent:\n%s\n%s", before, after)
	}
}

func TestParseShortIntervalHalvesDefaultTimeout(t *testing.T) {
	t.Parallel()
	a, err := Parse([]byte("name: a\nservices:\n  a: {command: [x], ports: [1], health: {tcp: {}, interval: 1s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if h := a.Services["a"].Health; h.Timeout != Duration(500*time.Millisecond) {
		t.Errorf("timeout = %s, want 500ms", h.Timeout)
	}
}

func TestParseAnchorsAndShorthand(t *testing.T) {
	t.Parallel()
	a := mustParseFile(t, "anchors.yaml")
	b := a.Services["b"]
	if !reflect.DeepEqual(b.Command, []string{"./b"}) {
		t.Errorf("explicit key must win over merged: command = %q", b.Command)
	}
	if len(b.Ports) != 2 || b.Ports[1].Protocol != ProtocolTCP || b.Health == nil || b.Health.TCP == nil {
		t.Errorf("merged ports/health = %+v %+v", b.Ports, b.Health)
	}
	// Scalars keep their source text in string fields.
	wantEnv := map[string]string{"LOG_LEVEL": "debug", "RETRIES": "3", "VERBOSE": "true", "RATIO": "1.10"}
	if !reflect.DeepEqual(b.Env, wantEnv) {
		t.Errorf("env = %v", b.Env)
	}
	if b.StopGracePeriod != Duration(90*time.Second) {
		t.Errorf("stop_grace_period = %s", b.StopGracePeriod)
	}
	if a.Strategy.Type != StrategyRecreate || a.Strategy.MaxSurge != DefaultMaxSurge {
		t.Errorf("strategy = %+v", a.Strategy)
	}
}

func TestParseYAMLAndJSONAgree(t *testing.T) {
	t.Parallel()
	y, err := Parse([]byte("name: x\nservices:\n  x: {image: nginx, ports: [80]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := Parse([]byte(`{"name":"x","services":{"x":{"image":"nginx","ports":[{"port":80}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cy, _ := y.Canonical()
	cj, _ := j.Canonical()
	if !bytes.Equal(cy, cj) {
		t.Errorf("YAML and JSON differ:\n%s\n%s", cy, cj)
	}
}

func TestValidateInCode(t *testing.T) {
	t.Parallel()
	a := &App{Name: "x", Services: map[string]*Service{"x": {Image: "nginx", Ports: []Port{{Port: 0}}}}}
	err := a.Validate()
	ve, ok := err.(*ValidationError)
	if !ok || len(ve.Problems) != 1 || ve.Problems[0].Path != "services.x.ports[0].port" {
		t.Fatalf("Validate = %v", err)
	}
	if a.Services["x"].Replicas != nil || a.Services["x"].Ports[0].Protocol != "" {
		t.Error("Validate changed the app")
	}
	a.Services["x"].Ports[0].Port = 80
	if err := a.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
