package runner

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/pipeline/webhook"
	"github.com/berthdev/berth/internal/store"
)

// sectionSpec is a berth.yaml on url whose pipeline is its own section:
// a diamond a -> (b, c) -> d, each step echoing tag.
func sectionSpec(app, url, tag string) string {
	return appSpec(app, url) + fmt.Sprintf(`pipeline:
  on: [push, manual]
  steps:
    - {name: a, run: echo a-%[1]s}
    - {name: b, needs: [a], run: sleep 0.3; echo b-%[1]s}
    - {name: c, needs: [a], run: sleep 0.3; echo c-%[1]s}
    - {name: d, needs: [b, c], run: echo d-%[1]s}
`, tag)
}

// The section of the applied spec is what runs — in DAG order, in the
// checkout — whatever pipeline file the repository holds; manual runs and
// webhooks both take it, and a rerun keeps the definition of its run.
func TestPipelineSectionRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rp := newRepo(t, "sect")
	c1 := rp.commit(map[string]string{
		"berth.yaml":           appSpec("sect", rp.URL),
		".berth/pipeline.yaml": "on: [push, manual]\nsteps:\n  - {name: from-file, run: echo from-file}\n",
		"hello.txt":            "in the checkout\n",
	}, "c1")
	e.addAppSpec("sect", "team_a", strings.Replace(sectionSpec("sect", rp.URL, "one"), "echo a-one", "cat hello.txt; echo a-one", 1))

	run := e.waitEnd(e.manual("sect", nil).ID)
	if run.State != store.RunSucceeded {
		t.Fatalf("state %s (%s)\n%s", run.State, run.Reason, e.log(run.ID))
	}
	checkDiamond(t, run)
	log := e.log(run.ID)
	for _, want := range []string{
		"pipeline: the pipeline section of berth.yaml (release 1); .berth/pipeline.yaml in the repository is ignored",
		"[a] in the checkout\n", "[a] a-one\n", "[d] d-one\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "from-file") {
		t.Errorf("the repository's pipeline file ran:\n%s", log)
	}

	// A webhook push takes the section too.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.r.ServeHook(w, r, "github", "sect")
	}))
	t.Cleanup(srv.Close)
	c2 := rp.commit(map[string]string{"x.txt": "x"}, "c2")
	d := delivery{forge: webhook.GitHub, event: "push", id: "gh-sect", payload: mustJSON(t, map[string]any{
		"ref": "refs/heads/main", "before": c1, "after": c2,
		"commits":    []map[string]any{{"id": c2, "added": []string{"x.txt"}}},
		"repository": map[string]any{"full_name": "team/sect", "clone_url": rp.URL}, "sender": map[string]any{"login": "ann"},
	})}
	secret := []byte(e.r.HookSecret("sect"))
	if code := d.send(t, srv.URL, func(h http.Header, body []byte) { k, v := webhook.Sign(webhook.GitHub, secret, body); h.Set(k, v) }); code != http.StatusAccepted {
		t.Fatalf("webhook answered %d", code)
	}
	runs, err := e.st.ListRuns(t.Context(), store.RunFilter{App: "sect", Limit: 1})
	if err != nil || len(runs) != 1 || runs[0].Number != 2 {
		t.Fatalf("runs after the webhook = %+v, %v", runs, err)
	}
	pushed := e.waitEnd(runs[0].ID)
	if pushed.State != store.RunSucceeded || pushed.Trigger != "push" || pushed.Commit != c2 {
		t.Fatalf("pushed run = %s %s %s (%s)\n%s", pushed.State, pushed.Trigger, pushed.Commit, pushed.Reason, e.log(pushed.ID))
	}
	checkDiamond(t, pushed)

	// Release 2 changes the section: new runs use it, a rerun of the
	// first run uses release 1's, as it uses that run's commit.
	e.addAppSpec("sect", "team_a", sectionSpec("sect", rp.URL, "two"))
	fresh := e.waitEnd(e.manual("sect", nil).ID)
	if l := e.log(fresh.ID); fresh.State != store.RunSucceeded || !strings.Contains(l, "[d] d-two") || !strings.Contains(l, "(release 2)") {
		t.Errorf("run after release 2 = %s (%s):\n%s", fresh.State, fresh.Reason, l)
	}
	again, err := e.r.Rerun(t.Context(), run.ID, "tester")
	if err != nil {
		t.Fatal(err)
	}
	again = e.waitEnd(again.ID)
	if l := e.log(again.ID); again.State != store.RunSucceeded || !strings.Contains(l, "[d] d-one") || !strings.Contains(l, "(release 1)") || again.Commit != c1 {
		t.Errorf("rerun = %s at %s (%s):\n%s", again.State, again.Commit, again.Reason, l)
	}

	// The definition the runs read is remembered like a file's.
	ps, err := e.st.GetPipeline(t.Context(), "sect")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ps.Definition), "d-") {
		t.Errorf("remembered definition %s", ps.Definition)
	}
}

// Without a pipeline file in the repository the run log does not mention one.
func TestPipelineSectionWithoutFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rp := newRepo(t, "nofile")
	rp.commit(map[string]string{"README": "no pipeline file here\n"}, "c1")
	e.addAppSpec("nofile", "team_a", sectionSpec("nofile", rp.URL, "x"))
	run := e.waitEnd(e.manual("nofile", nil).ID)
	if run.State != store.RunSucceeded {
		t.Fatalf("state %s (%s)\n%s", run.State, run.Reason, e.log(run.ID))
	}
	if l := e.log(run.ID); !strings.Contains(l, "pipeline: the pipeline section of berth.yaml (release 1)\n") {
		t.Errorf("log:\n%s", l)
	}
}

// checkDiamond checks that run ran a, then b and c, then d.
func checkDiamond(t *testing.T, run store.Run) {
	t.Helper()
	if len(run.Steps) != 4 {
		t.Fatalf("steps %+v; want a, b, c, d", run.Steps)
	}
	a, b, c, d := stepOf(run, "a"), stepOf(run, "b"), stepOf(run, "c"), stepOf(run, "d")
	for _, s := range []store.RunStep{a, b, c, d} {
		if s.Status != "success" {
			t.Errorf("step %+v", s)
		}
	}
	if b.StartedAt.Before(a.FinishedAt) || c.StartedAt.Before(a.FinishedAt) || d.StartedAt.Before(b.FinishedAt) || d.StartedAt.Before(c.FinishedAt) {
		t.Errorf("needs not respected: a ends %v, b starts %v, c starts %v, d starts %v", a.FinishedAt, b.StartedAt, c.StartedAt, d.StartedAt)
	}
}
