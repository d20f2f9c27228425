package runner

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
)

// TestDeployStepEnvironment: deploy.env puts the release in the named
// environment of the run's team and wakes the reconciler for the app; an
// unknown environment, another team's, one the app does not run in, and
// a cluster environment with a service without an image fail the step
// with a message naming the problem, and create no release. (No
// reconciler runs here; internal/server's kube test sees such a release
// roll out on a real control plane.)
func TestDeployStepEnvironment(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var woken []string
	e := newEnv(t, envOpts{tweak: func(o *Options) {
		o.Notify = func(app string) {
			mu.Lock()
			defer mu.Unlock()
			woken = append(woken, app)
		}
	}})
	ctx := t.Context()
	if err := e.st.CreateCluster(ctx, store.Cluster{Name: "eu", Server: "https://eu.example", CreatedAt: time.Now()}, []byte("kubeconfig")); err != nil {
		t.Fatal(err)
	}
	for _, env := range []store.Environment{
		{Name: "prod", Team: "team_a", Cluster: "eu", Namespace: "shop"},
		{Name: "staging", Team: "team_a", Cluster: "eu", Namespace: "shop-staging"},
		{Name: "theirs", Team: "team_b", Cluster: "eu", Namespace: "other"},
	} {
		env.CreatedAt = time.Now()
		if err := e.st.CreateEnvironment(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		desc, app, appEnv, stepEnv string
		image                      bool
		// want is a fragment of the deploy step's reason.
		want string
	}{
		{"cluster environment", "inprod", "prod", "prod", true, "release 2 was not healthy within 2s"},
		{"local runtime", "inlocal", "", "local", true, "release 2 was not healthy within 2s"},
		{"unknown environment", "unknown", "prod", "nope", true, `deploy.env: no environment named "nope" in the pipeline's team`},
		{"another team's environment", "stolen", "prod", "theirs", true, `deploy.env: no environment named "theirs" in the pipeline's team`},
		{"app runs elsewhere", "moving", "prod", "staging", true, "deploy.env: app moving runs in environment prod, not environment staging: set env: prod"},
		{"local app to a cluster", "localapp", "", "prod", true, "deploy.env: app localapp runs in the local runtime, not environment prod: set env: local"},
		{"cluster app to local", "clusterapp", "prod", "local", true, "deploy.env: app clusterapp runs in environment prod, not the local runtime: set env: prod"},
		{"no image on a cluster", "noimage", "prod", "prod", false, "service(s) web of berth.yaml have no image"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			rp := newRepo(t, tt.app)
			svc := "    image: registry.berth.test/" + tt.app + ":1\n"
			if !tt.image {
				svc = "    command: [sleep, \"1000\"]\n"
			}
			berth := "name: " + tt.app + "\nsource: {git: " + rp.URL + "}\nservices:\n  web:\n" + svc
			pipe := "on: [manual]\nsteps:\n  - name: deploy\n    timeout: 2s\n    deploy: {env: " + tt.stepEnv + "}\n"
			rp.commit(map[string]string{"berth.yaml": berth, ".berth/pipeline.yaml": pipe}, "initial")
			// Release 1, as `berth apply [--env]` makes it; the image-less
			// spec goes in as a local app first (apply would refuse it).
			first := berth
			if !tt.image {
				first = "name: " + tt.app + "\nsource: {git: " + rp.URL + "}\nservices:\n  web:\n    image: x\n"
			}
			a, err := spec.Parse([]byte(first))
			if err != nil {
				t.Fatal(err)
			}
			canonical, _ := a.Canonical()
			err = e.st.InTx(ctx, func(tx store.Tx) error {
				_, err := release.Apply(ctx, tx, release.Input{Name: tt.app, Canonical: canonical, Team: "team_a", Env: tt.appEnv, Now: time.Now()})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			run := e.waitEnd(e.manual(tt.app, nil).ID)
			step := stepOf(run, "deploy")
			if !strings.Contains(step.Reason, tt.want) {
				t.Fatalf("deploy step: %s (%s); want ...%s...\n%s", step.Status, step.Reason, tt.want, e.log(run.ID))
			}
			app, err := e.st.GetApp(ctx, tt.app)
			if err != nil {
				t.Fatal(err)
			}
			if app.Env != tt.appEnv {
				t.Errorf("app env = %q, want %q", app.Env, tt.appEnv)
			}
			mu.Lock()
			wasWoken := strings.Contains(strings.Join(woken, " ")+" ", tt.app+" ")
			mu.Unlock()
			created := strings.Contains(tt.want, "release 2")
			if _, err := e.st.GetRelease(ctx, tt.app, 2); (err == nil) != created || app.TargetRelease != map[bool]int{true: 2, false: 1}[created] {
				t.Errorf("release 2: %v, target %d; want created=%v", err, app.TargetRelease, created)
			}
			if wasWoken != created {
				t.Errorf("reconciler woken for %s: %v, want %v", tt.app, wasWoken, created)
			}
			where := map[string]string{"prod": "environment prod (cluster eu, namespace shop)", "local": "the server's local runtime"}[tt.stepEnv]
			if created && !strings.Contains(e.log(run.ID), "release 2 of "+tt.app+" created in "+where) {
				t.Errorf("log:\n%s", e.log(run.ID))
			}
		})
	}
}
