package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/pipeline/webhook"
	"github.com/berthdev/berth/internal/store"
)

const hookPipeline = `on: [push, tag, pull_request]
steps:
  - name: test
    run: echo "testing $BERTH_REF"
  - name: main-only
    when: {branches: [main]}
    run: echo main
  - name: release
    when: {tags: ["v*"]}
    run: echo release
`

// delivery is one webhook request as a forge sends it.
type delivery struct {
	forge   webhook.Forge
	event   string
	id      string
	payload []byte
}

func (d delivery) send(t *testing.T, url string, sign func(h http.Header, body []byte)) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	switch d.forge {
	case webhook.GitHub:
		req.Header.Set("X-GitHub-Event", d.event)
		req.Header.Set("X-GitHub-Delivery", d.id)
	case webhook.Gitea:
		req.Header.Set("X-Gitea-Event", d.event)
		req.Header.Set("X-Gitea-Delivery", d.id)
	case webhook.GitLab:
		req.Header.Set("X-Gitlab-Event", d.event)
		req.Header.Set("X-Gitlab-Event-UUID", d.id)
	}
	if sign != nil {
		sign(req.Header, d.payload)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWebhooksPerForge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rp := newRepo(t, "hooked")
	c1 := rp.commit(map[string]string{"berth.yaml": appSpec("hooked", rp.URL), ".berth/pipeline.yaml": hookPipeline}, "c1")
	c2 := rp.commit(map[string]string{"web/x.txt": "x"}, "c2 on main")
	rp.branch("feature")
	c3 := rp.commit(map[string]string{"f.txt": "f"}, "c3 on feature")
	rp.branch("main")
	tagged := rp.tag("v1.0")
	e.addApp("hooked", "team_a", rp)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forge, _ := strings.CutPrefix(r.URL.Path, "/")
		e.r.ServeHook(w, r, forge, "hooked")
	}))
	t.Cleanup(srv.Close)
	secret := []byte(e.r.HookSecret("hooked"))
	good := func(f webhook.Forge) func(http.Header, []byte) {
		return func(h http.Header, body []byte) { k, v := webhook.Sign(f, secret, body); h.Set(k, v) }
	}
	bad := func(f webhook.Forge) func(http.Header, []byte) {
		return func(h http.Header, body []byte) { k, v := webhook.Sign(f, []byte("not the secret"), body); h.Set(k, v) }
	}
	tests := []struct {
		desc    string
		d       delivery
		trigger string
		commit  string
		ref     string
		ran     []string // steps that must succeed
		skipped []string
	}{
		{
			desc: "github push to main",
			d: delivery{forge: webhook.GitHub, event: "push", id: "gh-1", payload: mustJSON(t, map[string]any{
				"ref": "refs/heads/main", "before": c1, "after": c2,
				"commits":    []map[string]any{{"id": c2, "added": []string{"web/x.txt"}}},
				"repository": map[string]any{"full_name": "team/hooked", "clone_url": rp.URL}, "sender": map[string]any{"login": "ann"},
			})},
			trigger: "push", commit: c2, ref: "refs/heads/main", ran: []string{"test", "main-only"}, skipped: []string{"release"},
		},
		{
			desc: "gitea push to a feature branch",
			d: delivery{forge: webhook.Gitea, event: "push", id: "gt-1", payload: mustJSON(t, map[string]any{
				"ref": "refs/heads/feature", "before": c2, "after": c3,
				"commits":    []map[string]any{{"id": c3, "added": []string{"f.txt"}}},
				"repository": map[string]any{"full_name": "team/hooked", "clone_url": rp.URL}, "pusher": map[string]any{"login": "bob"},
			})},
			trigger: "push", commit: c3, ref: "refs/heads/feature", ran: []string{"test"}, skipped: []string{"main-only", "release"},
		},
		{
			desc: "gitlab tag push",
			d: delivery{forge: webhook.GitLab, event: "Tag Push Hook", id: "gl-1", payload: mustJSON(t, map[string]any{
				"object_kind": "tag_push", "ref": "refs/tags/v1.0", "before": "0000000000000000000000000000000000000000", "after": tagged,
				"user_username": "cy", "project": map[string]any{"path_with_namespace": "team/hooked", "git_http_url": rp.URL},
				"total_commits_count": 0,
			})},
			trigger: "tag", commit: tagged, ref: "refs/tags/v1.0", ran: []string{"test", "release"}, skipped: []string{"main-only"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			url := srv.URL + "/" + string(tc.d.forge)
			count := func() int {
				runs, err := e.st.ListRuns(t.Context(), store.RunFilter{App: "hooked"})
				if err != nil {
					t.Fatal(err)
				}
				return len(runs)
			}
			before := count()
			// A bad signature, and none at all: 401, nothing recorded, so
			// the genuine delivery with the same ID still counts.
			if code := tc.d.send(t, url, bad(tc.d.forge)); code != http.StatusUnauthorized {
				t.Errorf("bad signature: %d, want 401", code)
			}
			if code := tc.d.send(t, url, nil); code != http.StatusUnauthorized {
				t.Errorf("missing signature: %d, want 401", code)
			}
			if n := count(); n != before {
				t.Fatalf("refused deliveries created %d runs", n-before)
			}
			if code := tc.d.send(t, url, good(tc.d.forge)); code != http.StatusAccepted {
				t.Fatalf("good delivery: %d, want 202", code)
			}
			if code := tc.d.send(t, url, good(tc.d.forge)); code != http.StatusConflict {
				t.Errorf("replayed delivery: %d, want 409", code)
			}
			if n := count(); n != before+1 {
				t.Fatalf("%d runs created, want exactly 1", n-before)
			}
			runs, _ := e.st.ListRuns(t.Context(), store.RunFilter{App: "hooked", Limit: 1})
			run := e.waitEnd(runs[0].ID)
			if run.State != store.RunSucceeded || run.Trigger != tc.trigger || run.Commit != tc.commit || run.Ref != tc.ref || run.CreatedBy != string(tc.d.forge) {
				t.Fatalf("run = %s %s %s %s by %s (%s)\n%s", run.State, run.Trigger, run.Ref, run.Commit, run.CreatedBy, run.Reason, e.log(run.ID))
			}
			for _, s := range tc.ran {
				if st := stepOf(run, s); st.Status != "success" {
					t.Errorf("step %s = %+v", s, st)
				}
			}
			for _, s := range tc.skipped {
				if st := stepOf(run, s); st.Status != "skipped" {
					t.Errorf("step %s = %+v, want skipped", s, st)
				}
			}
			if log := e.log(run.ID); !strings.Contains(log, fmt.Sprintf("[test] testing %s", tc.ref)) {
				t.Errorf("log:\n%s", log)
			}
		})
	}
	// The replay record is in the store: a new runner on the same store
	// (a restarted server) still refuses the delivery.
	e.stop()
	e.start()
	if code := tests[0].d.send(t, srv.URL+"/github", good(webhook.GitHub)); code != http.StatusConflict {
		t.Errorf("replay after restart: %d, want 409", code)
	}
	if code := (delivery{forge: "bitbucket", event: "push", id: "x", payload: []byte("{}")}).send(t, srv.URL+"/bitbucket", nil); code != http.StatusNotFound {
		t.Errorf("unknown forge: %d, want 404", code)
	}
}

// TestForkPullRequestGetsNoSecrets: a pull request from a fork runs, but a
// step asking for a secret fails instead of receiving it.
func TestForkPullRequestGetsNoSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{secrets: mapSecrets{"TOKEN": "fork-must-not-see-this"}})
	rp := newRepo(t, "forked")
	base := rp.commit(map[string]string{"berth.yaml": appSpec("forked", rp.URL), ".berth/pipeline.yaml": `on: [pull_request]
steps:
  - name: test
    run: echo testing
  - name: publish
    secrets: [TOKEN]
    run: echo "$TOKEN"
`}, "base")
	rp.branch("pr")
	head := rp.commit(map[string]string{"change.txt": "x"}, "the fork's change")
	gitCLI(t, rp.work, "push", "-q", "origin", "HEAD:refs/pull/7/head")
	e.addApp("forked", "team_a", rp)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.r.ServeHook(w, r, "github", "forked")
	}))
	t.Cleanup(srv.Close)
	d := delivery{forge: webhook.GitHub, event: "pull_request", id: "pr-1", payload: mustJSON(t, map[string]any{
		"action": "opened", "number": 7,
		"pull_request": map[string]any{
			"head": map[string]any{"ref": "pr", "sha": head, "repo": map[string]any{"full_name": "mallory/forked", "clone_url": "https://example.com/mallory/forked.git"}},
			"base": map[string]any{"ref": "main", "sha": base},
		},
		"repository": map[string]any{"full_name": "team/forked", "clone_url": rp.URL}, "sender": map[string]any{"login": "mallory"},
	})}
	secret := []byte(e.r.HookSecret("forked"))
	if code := d.send(t, srv.URL, func(h http.Header, body []byte) { k, v := webhook.Sign(webhook.GitHub, secret, body); h.Set(k, v) }); code != http.StatusAccepted {
		t.Fatalf("pull request delivery: %d", code)
	}
	run := e.waitEnd("forked.1")
	if run.Trigger != "pull_request" || run.Commit != head || run.Ref != "refs/pull/7/head" {
		t.Fatalf("run = %+v", run)
	}
	if s := stepOf(run, "test"); s.Status != "success" {
		t.Errorf("test = %+v\n%s", s, e.log(run.ID))
	}
	if s := stepOf(run, "publish"); s.Status != "failure" || !strings.Contains(s.Reason, "pull requests from forks never get") {
		t.Errorf("publish = %+v", s)
	}
	if strings.Contains(e.log(run.ID), "fork-must-not-see-this") {
		t.Error("the secret reached the log")
	}
}
