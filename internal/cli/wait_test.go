package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

// step is what the scripted server answers for one GetApp and the
// GetRelease after it.
type step struct {
	app api.App
	rel api.Release
}

// scriptServer plays steps in order, one per GetApp, repeating the last.
// GET /watch answers 404 unless watch is set, so both the polling fallback
// and the event path are exercised.
type scriptServer struct {
	*httptest.Server
	mu     sync.Mutex
	steps  []step
	cur    int
	gone   bool // GetApp answers 404 after the last step
	events chan api.Event
}

func newScriptServer(t *testing.T, watch bool, steps ...step) *scriptServer {
	t.Helper()
	s := &scriptServer{steps: steps}
	if watch {
		s.events = make(chan api.Event, 16)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/apps/shop", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.cur >= len(s.steps) {
			if s.gone {
				writeErr(w, http.StatusNotFound, api.CodeNotFound, "app shop not found")
				return
			}
			s.cur = len(s.steps) - 1
		}
		writeJSON(w, s.steps[s.cur].app)
		s.cur++
	})
	mux.HandleFunc("GET /api/v1/apps/shop/releases/{n}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		writeJSON(w, s.steps[max(s.cur-1, 0)].rel)
	})
	mux.HandleFunc("DELETE /api/v1/apps/shop", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /api/v1/watch", func(w http.ResponseWriter, r *http.Request) {
		if s.events == nil {
			writeErr(w, http.StatusNotFound, api.CodeNotFound, "no watch here")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case e := <-s.events:
				b, _ := json.Marshal(e)
				fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Revision, e.Kind, b)
				w.(http.Flusher).Flush()
			}
		}
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: api.Error{Code: code, Message: msg}})
}

func svc(name string, ready, desired, release int, conds ...api.Condition) api.ServiceStatus {
	return api.ServiceStatus{Name: name, Ready: ready, Desired: desired, Release: release, Conditions: conds}
}

func appWith(target int, phase string, ss ...api.ServiceStatus) api.App {
	a := api.App{Name: "shop", LatestRelease: target, TargetRelease: target,
		Status: api.AppStatus{Release: target, Phase: phase, Services: ss}}
	if phase == api.PhaseRunning {
		a.Status.Serving = target
	}
	return a
}

func rel3(state string) api.Release {
	return api.Release{App: "shop", Number: 3, State: state}
}

// waitWith runs waitRelease for release 3 against srv.
func waitWith(t *testing.T, srv *scriptServer, timeout time.Duration) (string, error) {
	t.Helper()
	var out bytes.Buffer
	r := &runner{Options: Options{Stdout: &out, PollInterval: 10 * time.Millisecond}}
	err := r.waitRelease(context.Background(), client.New(srv.URL, "t"), "shop", 3, 0, timeout)
	return out.String(), err
}

func TestWaitDeployed(t *testing.T) {
	t.Parallel()
	for _, watch := range []bool{false, true} {
		t.Run(fmt.Sprintf("watch=%v", watch), func(t *testing.T) {
			t.Parallel()
			old := appWith(3, api.PhaseRunning, svc("web", 2, 2, 2))
			old.Status.Release = 2 // not picked up yet: not shown
			building := appWith(3, api.PhaseProgressing)
			building.Status.Message = "building release 3"
			srv := newScriptServer(t, watch,
				step{old, rel3(api.ReleasePending)},
				step{building, rel3(api.ReleaseProgressing)},
				step{appWith(3, api.PhaseProgressing, svc("web", 0, 2, 2), svc("api", 1, 1, 3)), rel3(api.ReleaseProgressing)},
				step{appWith(3, api.PhaseProgressing, svc("web", 0, 2, 2), svc("api", 1, 1, 3)), rel3(api.ReleaseProgressing)},
				// Deployed before the status caught up: the wait goes on
				// until it does, to end on the lines that go with it.
				step{appWith(3, api.PhaseProgressing, svc("web", 1, 2, 3), svc("api", 1, 1, 3)), rel3(api.ReleaseDeployed)},
				step{appWith(3, api.PhaseRunning, svc("web", 2, 2, 3), svc("api", 1, 1, 3)), rel3(api.ReleaseDeployed)},
			)
			if watch {
				for i := range 6 {
					srv.events <- api.Event{Revision: int64(i + 1), Kind: api.EventAppStatus, App: "shop"}
				}
			}
			out, err := waitWith(t, srv, 10*time.Second)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			// One line per change: the repeated step prints nothing.
			want := "  Progressing: building release 3\n" +
				"  web  0/2 ready  (release 2)\n" +
				"  api  1/1 ready  (release 3)\n" +
				"  web  1/2 ready  (release 3)\n" +
				"  web  2/2 ready  (release 3)\n" +
				"  Running\n" +
				"app shop: release 3 deployed\n"
			if out != want {
				t.Errorf("output:\n%s\nwant:\n%s", out, want)
			}
		})
	}
}

func TestWaitFailed(t *testing.T) {
	t.Parallel()
	failedAPI := svc("api", 0, 1, 2, api.Condition{Type: api.ConditionFailed, Status: "True", Reason: "CrashLoop", Message: "exited with code 3"})
	failedAPI.Instances = []api.Instance{
		{ID: "api-old", Release: 2, LastExit: &api.Exit{Code: 1, At: testNow.Add(time.Minute), LogTail: []string{"old"}}},
		{ID: "api-new", Release: 3, LastExit: &api.Exit{Code: 3, At: testNow, LogTail: []string{"starting", "panic: no database"}}},
	}
	web := svc("web", 2, 2, 3)
	web.Instances = []api.Instance{{ID: "web-1", Release: 3, LastExit: &api.Exit{Code: 0, At: testNow.Add(time.Hour)}}}
	failedRel := rel3(api.ReleaseFailed)
	failedRel.Reason, failedRel.Message = "CrashLoop", "api exited with code 3"
	srv := newScriptServer(t, false,
		step{appWith(3, api.PhaseProgressing, svc("web", 2, 2, 3), svc("api", 0, 1, 2)), rel3(api.ReleaseProgressing)},
		step{appWith(3, api.PhaseFailed, web, failedAPI), failedRel},
	)
	out, err := waitWith(t, srv, 10*time.Second)
	if !strings.Contains(out, "  api  failed: CrashLoop: exited with code 3\n") {
		t.Errorf("progress lacks the failure:\n%s", out)
	}
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitFailure {
		t.Fatalf("err = %#v, want exit code 1", err)
	}
	if got, want := ee.Error(), "release 3 of shop failed: CrashLoop: api exited with code 3"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	wantDetail := "last output of api instance api-new (exited with code 3):\n" +
		"  | starting\n  | panic: no database\n" +
		`see "berth status shop" and "berth logs shop/api"`
	if ee.detail != wantDetail {
		t.Errorf("detail:\n%s\nwant:\n%s", ee.detail, wantDetail)
	}
}

func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, false,
		step{appWith(3, api.PhaseProgressing, svc("web", 1, 2, 3), svc("api", 1, 1, 3)), rel3(api.ReleaseProgressing)},
	)
	start := time.Now()
	_, err := waitWith(t, srv, 150*time.Millisecond)
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %s for a 150ms timeout", time.Since(start))
	}
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitFailure {
		t.Fatalf("err = %#v, want exit code 1", err)
	}
	want := `timed out after 150ms waiting for release 3 of shop; not ready: web 1/2 ready  (release 3); see "berth status shop"`
	if ee.Error() != want {
		t.Errorf("message:\n%s\nwant:\n%s", ee.Error(), want)
	}
}

func TestWaitReplaced(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, false,
		step{appWith(4, api.PhaseProgressing), rel3(api.ReleaseProgressing)},
	)
	_, err := waitWith(t, srv, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "release 3 of shop was replaced by release 4") {
		t.Errorf("err = %v", err)
	}
}

func TestWaitInterrupted(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, false,
		step{appWith(3, api.PhaseProgressing, svc("web", 1, 2, 3)), rel3(api.ReleaseProgressing)},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := &runner{Options: Options{Stdout: &bytes.Buffer{}, PollInterval: 10 * time.Millisecond}}
	err := r.waitRelease(ctx, client.New(srv.URL, "t"), "shop", 3, 0, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "interrupted; release 3 of shop keeps rolling out") {
		t.Errorf("err = %v", err)
	}
}

func TestDeleteWait(t *testing.T) {
	t.Parallel()
	inst := svc("web", 1, 0, 3)
	inst.Instances = []api.Instance{{ID: "web-1"}, {ID: "web-2"}}
	srv := newScriptServer(t, false,
		step{app: appWith(3, api.PhaseDeleting, inst)},
		step{app: appWith(3, api.PhaseDeleting, svc("web", 0, 0, 3))},
	)
	srv.gone = true
	env := map[string]string{"BERTH_URL": srv.URL, "BERTH_TOKEN": "t", "HOME": t.TempDir()}
	res := runCLI(t, env, "delete", "shop", "--wait")
	want := "app shop: deleting\n  Deleting: 2 instances left\n  Deleting: 0 instances left\napp shop: deleted\n"
	if res.code != 0 || res.stdout != want {
		t.Errorf("code %d, stdout:\n%s\nwant:\n%s\nstderr: %s", res.code, res.stdout, want, res.stderr)
	}
}
