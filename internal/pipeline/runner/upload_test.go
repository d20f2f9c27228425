package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/store"
)

// A cluster step with artifacts gets an upload address and a fresh token
// whose hash (only) is on its step while it runs; an archive recorded on
// the step by the server that took the upload survives the driver's later
// writes. Without an advertised URL such a step fails, saying what to set.
func TestClusterStepUpload(t *testing.T) {
	t.Parallel()
	const pipelineYAML = `on: [manual]
executor: {env: ci}
steps:
  - name: build
    image: golang:1.25
    run: go build -o bin/ ./...
    artifacts: [bin/]
  - name: after
    needs: [build]
    image: golang:1.25
    run: ls bin
`
	for _, tt := range []struct {
		desc, base, state, reason string
	}{
		{"sent to the advertised URL", "http://berth.example:7700/", store.RunSucceeded, ""},
		{"no advertised URL", "", store.RunFailed, "no --advertise-url"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			fake := &fakeClusters{}
			app := "up" + map[string]string{"": "a", "http://berth.example:7700/": "b"}[tt.base]
			e, _ := setup(t, app, pipelineYAML, envOpts{tweak: func(o *Options) { o.Clusters, o.UploadBaseURL = fake, tt.base }})
			ctx := t.Context()
			if err := e.st.CreateCluster(ctx, store.Cluster{Name: "eu", Server: "https://eu.example", CreatedAt: time.Now()}, []byte("kubeconfig")); err != nil {
				t.Fatal(err)
			}
			if err := e.st.CreateEnvironment(ctx, store.Environment{Name: "ci", Team: "team_a", Cluster: "eu", Namespace: "ci", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			kept := &store.StepArtifacts{Digest: "sha256:" + strings.Repeat("ab", 32), Size: 10, Count: 1, Files: []string{"bin/app"}}
			var seen []executor.StepSpec
			fake.onRun = func(s executor.StepSpec) {
				seen = append(seen, s)
				if s.Upload == nil {
					return
				}
				// What the upload handler does: check the token against
				// the stored hash, then record the archive on the step.
				run, err := e.st.GetRun(ctx, s.RunID)
				if err != nil {
					t.Error(err)
					return
				}
				for i, st := range run.Steps {
					if st.Name == s.Name {
						if !artifact.TokenMatches(st.UploadToken, s.Upload.Token) || strings.Contains(st.UploadToken, s.Upload.Token) {
							t.Errorf("stored token %q does not match (or is) %q", st.UploadToken, s.Upload.Token)
						}
						run.Steps[i].Artifacts = kept
					}
				}
				if _, err := e.st.UpdateRun(ctx, run); err != nil {
					t.Error(err)
				}
			}
			run := e.waitEnd(e.manual(app, nil).ID)
			if run.State != tt.state || !strings.Contains(run.Reason, tt.reason) {
				t.Fatalf("run %s (%s); want %s with %q\n%s", run.State, run.Reason, tt.state, tt.reason, e.log(run.ID))
			}
			if tt.base == "" {
				if len(seen) != 0 {
					t.Errorf("steps ran without an upload address: %+v", seen)
				}
				return
			}
			if len(seen) != 2 || seen[0].Upload == nil || seen[1].Upload != nil {
				t.Fatalf("steps seen %+v", seen)
			}
			if want := "http://berth.example:7700/api/v1/runs/" + run.ID + "/artifacts/build"; seen[0].Upload.URL != want || !strings.HasPrefix(seen[0].Upload.Token, "bst_") {
				t.Errorf("upload = %+v; want URL %s", seen[0].Upload, want)
			}
			if a := stepOf(run, "build").Artifacts; a == nil || a.Digest != kept.Digest {
				t.Errorf("the recorded archive was lost: %+v", a)
			}
		})
	}
}
