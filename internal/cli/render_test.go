package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/berthdev/berth/pkg/api"
)

func ago(d time.Duration) time.Time { return testNow.Add(-d) }

// shopApp is a two-service app mid-rollout: web is fine, api crash-loops.
func shopApp() api.App {
	return api.App{
		Name:          "shop",
		LatestRelease: 3,
		TargetRelease: 3,
		CreatedAt:     ago(3 * 24 * time.Hour),
		UpdatedAt:     ago(time.Minute),
		Status: api.AppStatus{
			Release:    3,
			Serving:    2,
			Phase:      api.PhaseDegraded,
			Message:    "api is not ready",
			ObservedAt: ago(5 * time.Second),
			Conditions: []api.Condition{
				{Type: api.ConditionAvailable, Status: "True", Reason: "Serving", LastTransitionTime: ago(time.Hour)},
			},
			Services: []api.ServiceStatus{
				{
					Name: "web", Desired: 2, Ready: 2, Release: 3, Address: "127.0.0.1:41000",
					Instances: []api.Instance{
						{ID: "web-1", Release: 3, State: "running", Ready: true, PID: 4242, Port: 41500, StartedAt: ago(90 * time.Second)},
						{ID: "web-2", Release: 3, State: "running", Ready: true, PID: 4243, Port: 41501, Restarts: 1, StartedAt: ago(80 * time.Second)},
					},
				},
				{
					Name: "api", Desired: 1, Ready: 0, Release: 2, Address: "127.0.0.1:41001",
					Conditions: []api.Condition{
						{Type: api.ConditionFailed, Status: "True", Reason: "CrashLoop", Message: "exited with code 3", LastTransitionTime: ago(10 * time.Second)},
					},
					Instances: []api.Instance{
						{ID: "api-1", Release: 3, State: "backoff", Restarts: 4, StartedAt: ago(20 * time.Second),
							LastExit: &api.Exit{Code: 3, At: ago(10 * time.Second), LogTail: []string{"starting", "panic: no database"}}},
					},
				},
			},
		},
	}
}

func TestRenderApps(t *testing.T) {
	t.Parallel()
	idle := api.App{Name: "empty", CreatedAt: ago(30 * time.Second)}
	var b bytes.Buffer
	if err := renderApps(&b, []api.App{shopApp(), idle}, testNow); err != nil {
		t.Fatal(err)
	}
	want := `NAME   RELEASE  SERVING  PHASE     SERVICES  AGE
shop   3        2        Degraded  1/2       3d
empty  -        -        -         -         30s
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestRenderStatus(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := renderStatus(&b, shopApp(), testNow); err != nil {
		t.Fatal(err)
	}
	want := `App:       shop
Release:   3 (serving 2)
Phase:     Degraded
Message:   api is not ready
Age:       3d
Observed:  5s ago

Conditions:
  TYPE        STATUS  REASON     AGE  MESSAGE
  Available   True    Serving    60m  -
  api Failed  True    CrashLoop  10s  exited with code 3

Services:
  NAME  READY  RELEASE  ADDRESS
  web   2/2    3        127.0.0.1:41000
  api   0/1    2        127.0.0.1:41001

Instances of web:
  ID     STATE            PID   PORT   RESTARTS  RELEASE  AGE  MESSAGE
  web-1  running (ready)  4242  41500  0         3        90s  -
  web-2  running (ready)  4243  41501  1         3        80s  -

Instances of api:
  ID     STATE    PID  PORT  RESTARTS  RELEASE  AGE  MESSAGE
  api-1  backoff  -    -     4         3        20s  last exited with code 3
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestRenderReleases(t *testing.T) {
	t.Parallel()
	rs := []api.Release{
		{Number: 1, State: api.ReleaseSuperseded, Cause: "apply", CreatedAt: ago(48 * time.Hour)},
		{Number: 2, State: api.ReleaseFailed, Cause: "apply", Reason: "CrashLoop", Message: "api exited\nwith code 3", CreatedAt: ago(3 * time.Hour)},
		{Number: 3, State: api.ReleaseSuperseded, Cause: "rollback", RollbackOf: 1, CreatedAt: ago(5 * time.Minute)},
		{Number: 4, State: api.ReleaseSuperseded, Cause: "config", Config: &api.ReleaseConfig{Env: "default", Version: 2, ReloadOf: 3}, CreatedAt: ago(2 * time.Minute)},
		{Number: 5, State: api.ReleaseDeployed, Cause: "apply", Config: &api.ReleaseConfig{Env: "default", Version: 2, ReloadOf: 3, PipelineOnly: true}, CreatedAt: ago(time.Minute)},
	}
	var b bytes.Buffer
	if err := renderReleases(&b, rs, testNow); err != nil {
		t.Fatal(err)
	}
	want := `NUMBER  STATE       CAUSE                           CREATED  MESSAGE
1       superseded  apply                           2d ago   -
2       failed      apply                           3h ago   CrashLoop: api exited with code 3
3       superseded  rollback to 1                   5m ago   -
4       superseded  config (live reload of 3)       2m ago   -
5       deployed    apply (pipeline only, keeps 3)  60s ago  -
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestRenderContexts(t *testing.T) {
	t.Parallel()
	cfg := &Config{CurrentContext: "prod", Contexts: []Context{
		{Name: "local", URL: "http://127.0.0.1:7700", Token: "secret-1"},
		{Name: "prod", URL: "https://berth.example.com", Token: "secret-2"},
	}}
	var b bytes.Buffer
	if err := renderContexts(&b, cfg); err != nil {
		t.Fatal(err)
	}
	want := `CURRENT  NAME   URL
         local  http://127.0.0.1:7700
*        prod   https://berth.example.com
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestRenderVersions(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	v := versions{
		Client: api.Version{Version: "v1.2.0", GoVersion: "go1.26.8"},
		Server: &api.Version{Version: "v1.1.0", Commit: "abc123", GoVersion: "go1.26.8"},
	}
	if err := renderVersions(&b, v); err != nil {
		t.Fatal(err)
	}
	want := "Client: v1.2.0 (go1.26.8)\nServer: v1.1.0 (commit abc123, go1.26.8)\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// -o json and -o yaml print the API's shapes with the API's field names.
func TestPrintData(t *testing.T) {
	t.Parallel()
	apps := []api.App{shopApp()}
	var j, y bytes.Buffer
	if err := printData(&j, outputJSON, apps); err != nil {
		t.Fatal(err)
	}
	if err := printData(&y, outputYAML, apps); err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromYAML []api.App
	if err := json.Unmarshal(j.Bytes(), &fromJSON); err != nil {
		t.Fatalf("json output does not parse: %v", err)
	}
	if err := yaml.UnmarshalStrict(y.Bytes(), &fromYAML); err != nil {
		t.Fatalf("yaml output does not parse: %v", err)
	}
	if fromJSON[0].Status.Services[1].Instances[0].LastExit.LogTail[1] != "panic: no database" ||
		fromYAML[0].Status.Services[1].Conditions[0].Reason != "CrashLoop" {
		t.Error("round trip lost data")
	}
	if !strings.Contains(j.String(), `"latest_release": 3`) || !strings.Contains(y.String(), "latest_release: 3") {
		t.Errorf("field names are not the API's:\n%s\n%s", j.String(), y.String())
	}
}

func TestAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		t    time.Time
		want string
	}{
		{desc: "unknown", want: "-"},
		{desc: "future", t: testNow.Add(time.Minute), want: "0s"},
		{desc: "seconds", t: ago(119 * time.Second), want: "119s"},
		{desc: "minutes", t: ago(119 * time.Minute), want: "119m"},
		{desc: "hours", t: ago(47 * time.Hour), want: "47h"},
		{desc: "days", t: ago(10 * 24 * time.Hour), want: "10d"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if got := age(testNow, tt.t); got != tt.want {
				t.Errorf("age = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestServiceLine(t *testing.T) {
	t.Parallel()
	a := shopApp()
	if got, want := serviceLine(a.Status.Services[0]), "2/2 ready  (release 3)"; got != want {
		t.Errorf("web: %q, want %q", got, want)
	}
	if got, want := serviceLine(a.Status.Services[1]), "failed: CrashLoop: exited with code 3"; got != want {
		t.Errorf("api: %q, want %q", got, want)
	}
}
