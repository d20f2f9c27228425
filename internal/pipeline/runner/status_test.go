package runner

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
)

func TestStatusEndpoint(t *testing.T) {
	t.Parallel()
	const sha = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		desc string
		src  spec.Source
		want string
	}{
		{"github.com", spec.Source{Git: "https://github.com/team/shop.git", Status: "github"}, "https://api.github.com/repos/team/shop/statuses/" + sha},
		{"github enterprise", spec.Source{Git: "https://ghe.example.com/team/shop", Status: "github"}, "https://ghe.example.com/api/v3/repos/team/shop/statuses/" + sha},
		{"gitea", spec.Source{Git: "http://gitea.example.com:3000/team/shop.git", Status: "gitea"}, "http://gitea.example.com:3000/api/v1/repos/team/shop/statuses/" + sha},
		{"gitlab nested group", spec.Source{Git: "https://gitlab.example.com/group/sub/shop.git", Status: "gitlab"}, "https://gitlab.example.com/api/v4/projects/group%2Fsub%2Fshop/statuses/" + sha},
		{"explicit API", spec.Source{Git: "https://git.example.com/team/shop.git", Status: "gitea", StatusURL: "https://api.example.com/gitea/api/v1/"}, "https://api.example.com/gitea/api/v1/repos/team/shop/statuses/" + sha},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := statusEndpoint(tt.src, sha)
			if err != nil || got != tt.want {
				t.Errorf("statusEndpoint = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := statusEndpoint(spec.Source{Git: "https://github.com/team/sub/shop.git", Status: "github"}, sha); err == nil {
		t.Error("a three-part path is not a GitHub repository")
	}
}

// forge is a loopback HTTP server recording the status posts it gets.
type forge struct {
	mu    sync.Mutex
	calls []forgeCall
	URL   string
}

type forgeCall struct {
	Path, Auth string
	Body       map[string]string
}

func newForge(t *testing.T) *forge {
	f := &forge{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		auth := r.Header.Get("Authorization") + r.Header.Get("PRIVATE-TOKEN")
		f.mu.Lock()
		f.calls = append(f.calls, forgeCall{Path: r.URL.EscapedPath(), Auth: auth, Body: body})
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *forge) recorded() []forgeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]forgeCall(nil), f.calls...)
}

// TestCommitStatus: a run reports its state to the forge source.status
// names (pending or running when it starts, its outcome when it ends),
// with the token of source.secret in the forge's header; a status API on
// a loopback address is refused unless the operator allows private
// addresses, and the run is not failed by that.
func TestCommitStatus(t *testing.T) {
	t.Parallel()
	const token = "forge-token-Pz03-secret"
	tests := []struct {
		desc, forge, script string
		allowPrivate        bool
		wantPath, wantAuth  string
		wantStates          []string
		wantContext         string
	}{
		{"github success", "github", "true", true, "/repos/team/shop/statuses/", "Bearer " + token, []string{"pending", "success"}, "context"},
		{"gitea failure", "gitea", "exit 4", true, "/repos/team/shop/statuses/", "token " + token, []string{"pending", "failure"}, "context"},
		{"gitlab", "gitlab", "true", true, "/projects/team%2Fshop/statuses/", token, []string{"running", "success"}, "name"},
		{"loopback refused", "gitea", "true", false, "", "", nil, ""},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{secrets: mapSecrets{"FORGE_TOKEN": token}, tweak: func(o *Options) { o.AllowPrivateNotify = tt.allowPrivate }})
			f := newForge(t)
			// The status path comes from the repository's: team/shop.
			rp := newPrivateRepo(t, "team/shop", token)
			app := "st" + string(rune('a'+i))
			berth := "name: " + app + "\nsource: {git: " + rp.URL + ", secret: FORGE_TOKEN, status: " + tt.forge +
				", status_url: '" + f.URL + "'}\nservices:\n  web:\n    command: [sleep, \"1\"]\n"
			commit := rp.commit(map[string]string{"berth.yaml": berth, ".berth/pipeline.yaml": "on: [manual]\nsteps:\n  - name: s\n    run: " + tt.script + "\n"}, "c1")
			e.addAppSpec(app, "team_a", berth)
			run := e.waitEnd(e.manual(app, nil).ID)
			log := e.log(run.ID)
			if strings.Contains(log, token) {
				t.Errorf("the token shows in the log:\n%s", log)
			}
			wantState := store.RunSucceeded
			if tt.script != "true" {
				wantState = store.RunFailed
			}
			if run.State != wantState {
				t.Fatalf("run %s (%s), want %s\n%s", run.State, run.Reason, wantState, log)
			}
			calls := f.recorded()
			if tt.wantStates == nil {
				if len(calls) != 0 || !strings.Contains(log, "not reported to gitea") || !strings.Contains(log, "loopback, link-local, private") {
					t.Errorf("calls %+v; log:\n%s", calls, log)
				}
				return
			}
			if len(calls) != len(tt.wantStates) {
				t.Fatalf("calls %+v, want states %v\n%s", calls, tt.wantStates, log)
			}
			for i, c := range calls {
				if !strings.HasSuffix(c.Path, tt.wantPath+commit) || c.Auth != tt.wantAuth || c.Body["state"] != tt.wantStates[i] || c.Body[tt.wantContext] != "berth/pipeline" {
					t.Errorf("call %d = %+v; want path ...%s%s, auth %q, state %s", i, c, tt.wantPath, commit, tt.wantAuth, tt.wantStates[i])
				}
			}
		})
	}
}
