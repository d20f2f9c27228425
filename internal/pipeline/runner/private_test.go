package runner

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/pipeline/gitsrc/gittest"
	"github.com/berthdev/berth/internal/store"
)

// privateSpec is a berth.yaml whose source is a private repository read
// with the token in secretName, and whose pipeline file is pipelineFile.
func privateSpec(app, url, secretName, pipelineFile string) string {
	src := "git: " + url + ", branch: main, pipeline: " + pipelineFile
	if secretName != "" {
		src += ", secret: " + secretName + ", username: oauth2"
	}
	return "name: " + app + "\nsource: {" + src + "}\nservices:\n  web:\n    command: [sleep, \"1000\"]\n"
}

// TestPrivateRepository clones a repository served over HTTP behind a
// token check (git http-backend), with the token from the app's secret
// named by source.secret, and the pipeline from source.pipeline. Without
// the secret, with a missing one and with a wrong one the run fails with
// an error saying what to do, and the token is in no log, reason or
// workspace file.
func TestPrivateRepository(t *testing.T) {
	t.Parallel()
	const token = "glpat-Zq81ToKeN-never-shown"
	const wrong = "glpat-wrong-0ther-token"
	work := ""
	e := newEnv(t, envOpts{
		secrets: mapSecrets{"GIT_TOKEN": token, "BAD_TOKEN": wrong},
		tweak: func(o *Options) {
			o.KeepWorkspaces = true
			work = o.WorkDir
		},
	})
	rp := newPrivateRepo(t, "priv", token)
	pipe := "on: [manual]\nsteps:\n  - name: build\n    run: echo built from $(cat msg.txt); ls -a\n"
	rp.commit(map[string]string{
		"berth.yaml":           privateSpec("priv", rp.URL, "GIT_TOKEN", "ci/berth.yaml"),
		"ci/berth.yaml":        pipe,
		".berth/pipeline.yaml": "on: [manual]\nsteps:\n  - name: wrong-file\n    run: exit 3\n",
		"msg.txt":              "the private repo\n",
	}, "initial")

	tests := []struct {
		desc, app, secret string
		// want is a fragment of the reason; "" means the run succeeds.
		want string
	}{
		{"with the token", "priv", "GIT_TOKEN", ""},
		{"without source.secret", "nosecret", "", "a private repository needs a credential: store an access token with `berth secret set nosecret NAME`"},
		{"secret not set", "unset", "NOT_SET", "source.secret names NOT_SET, which app unset does not have"},
		{"wrong token", "wrongtok", "BAD_TOKEN", "the credential in secret BAD_TOKEN (source.secret) was refused"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e.addAppSpec(tt.app, "team_a", privateSpec(tt.app, rp.URL, tt.secret, "ci/berth.yaml"))
			run := e.waitEnd(e.manual(tt.app, nil).ID)
			log := e.log(run.ID)
			if tt.want == "" {
				if run.State != store.RunSucceeded {
					t.Fatalf("run %s (%s)\n%s", run.State, run.Reason, log)
				}
				if !strings.Contains(log, "[build] built from the private repo") || strings.Contains(log, "wrong-file") {
					t.Errorf("the run did not run ci/berth.yaml of the checkout:\n%s", log)
				}
			} else if run.State != store.RunFailed || !strings.Contains(run.Reason, tt.want) {
				t.Errorf("run %s (%s); want failed with ...%s...\n%s", run.State, run.Reason, tt.want, log)
			}
			// What the API shows of a run is the store's record.
			shown, err := json.Marshal(run)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{token, wrong} {
				if strings.Contains(log, secret) || strings.Contains(string(shown), secret) {
					t.Errorf("a token shows in the run's log or record:\n%s\n%s", log, shown)
				}
			}
		})
	}
	// The checkout kept on disk (KeepWorkspaces) holds the token nowhere,
	// .git/config included: steps never see it.
	err := filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), token) {
			t.Errorf("%s holds the token", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPrivateRepositoryOverSSH clones over a real SSH server that lets in
// one deploy key: the key comes from the app's secret named by
// source.secret, the server's host key from source.known_hosts.
func TestPrivateRepositoryOverSSH(t *testing.T) {
	t.Parallel()
	key, pub := gittest.ClientKey(t)
	other, _ := gittest.ClientKey(t)
	e := newEnv(t, envOpts{secrets: mapSecrets{"DEPLOY_KEY": string(key), "OTHER_KEY": string(other)}})
	rp := newRepo(t, "sshapp")
	srv := gittest.ServeSSH(t, rp.root, pub)
	url := "ssh://git@" + srv.Addr + "/sshapp.git"
	berth := func(secret string) string {
		return "name: sshapp\nsource: {git: '" + url + "', secret: " + secret + ", known_hosts: '" + strings.TrimSpace(string(srv.KnownHosts)) +
			"'}\nservices:\n  web:\n    command: [sleep, \"1\"]\n"
	}
	rp.commit(map[string]string{"berth.yaml": berth("DEPLOY_KEY"), ".berth/pipeline.yaml": "on: [manual]\nsteps:\n  - name: s\n    run: cat berth.yaml >/dev/null && echo over ssh\n"}, "c1")
	e.addAppSpec("sshapp", "team_a", berth("DEPLOY_KEY"))
	run := e.waitEnd(e.manual("sshapp", nil).ID)
	if log := e.log(run.ID); run.State != store.RunSucceeded || !strings.Contains(log, "[s] over ssh") {
		t.Fatalf("run %s (%s)\n%s", run.State, run.Reason, log)
	}
	// Another key is refused, and neither key shows anywhere.
	e.addAppSpec("sshapp", "team_a", berth("OTHER_KEY"))
	run = e.waitEnd(e.manual("sshapp", nil).ID)
	log := e.log(run.ID)
	if run.State != store.RunFailed || !strings.Contains(run.Reason, "checkout") && !strings.Contains(run.Reason, "resolving") {
		t.Errorf("run with a key the server refuses: %s (%s)", run.State, run.Reason)
	}
	for _, k := range []string{string(key), string(other)} {
		body := strings.Split(strings.TrimSpace(k), "\n")[1] // a line of the key itself
		if strings.Contains(log, body) || strings.Contains(run.Reason, body) {
			t.Errorf("a key shows in the run:\n%s", log)
		}
	}
}
