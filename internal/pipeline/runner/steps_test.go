package runner

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pipeline/cron"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

func notifyPipeline(url string) string {
	return `on: [manual]
steps:
  - name: build
    run: exit 3
  - name: tell
    notify: {url: "` + url + `", on: [failure]}
`
}

func TestNotifyRefusesPrivateAddressesUnlessAllowed(t *testing.T) {
	t.Parallel()
	got := make(chan NotifyPayload, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p NotifyPayload
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("notify body %s: %v", b, err)
		}
		got <- p
	}))
	t.Cleanup(hook.Close)

	tests := []struct {
		desc  string
		allow bool
	}{
		{desc: "refused by default", allow: false},
		{desc: "allowed by the operator's flag", allow: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			e, _ := setup(t, "notified", notifyPipeline(hook.URL+"/hook"), envOpts{tweak: func(o *Options) { o.AllowPrivateNotify = tc.allow }})
			run := e.waitEnd(e.manual("notified", nil).ID)
			if run.State != store.RunFailed || run.ExitCode != 3 {
				t.Fatalf("run = %s exit %d (%s)", run.State, run.ExitCode, run.Reason)
			}
			tell := stepOf(run, "tell")
			if !tc.allow {
				if tell.Status != "failure" || !strings.Contains(tell.Reason, "loopback, link-local, private") {
					t.Errorf("tell = %+v", tell)
				}
				select {
				case p := <-got:
					t.Errorf("the hook was reached: %+v", p)
				default:
				}
				return
			}
			if tell.Status != "success" {
				t.Fatalf("tell = %+v\n%s", tell, e.log(run.ID))
			}
			select {
			case p := <-got:
				if p.Run != run.ID || p.Outcome != "failure" || p.Commit != run.Commit {
					t.Errorf("payload = %+v, run %s at %s", p, run.ID, run.Commit)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the hook got nothing")
			}
		})
	}
}

func TestInternalAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true}, {"::1", true}, {"10.1.2.3", true}, {"192.168.0.1", true}, {"172.16.0.1", true},
		{"169.254.169.254", true}, {"fe80::1", true}, {"100.64.0.1", true}, {"0.0.0.0", true}, {"::ffff:127.0.0.1", true},
		{"fd00::1", true}, {"8.8.8.8", false}, {"2001:4860:4860::8888", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if got := internalAddr(netip.MustParseAddr(tc.addr)); got != tc.want {
				t.Errorf("internalAddr(%s) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

func TestDeployStepCreatesAReleaseAndWaitsForHealth(t *testing.T) {
	t.Parallel()
	// No reconciler runs here, so the release never becomes healthy: the
	// step must create it through the apply path and then time out. The
	// end-to-end test (test/e2e) sees a release become healthy.
	e, _ := setup(t, "deployer", `on: [manual]
steps:
  - name: build
    run: mkdir -p bin && echo built > bin/out
    artifacts: [bin/]
  - name: deploy
    needs: [build]
    timeout: 2s
    deploy: {env: local}
`, envOpts{})
	run := e.waitEnd(e.manual("deployer", nil).ID)
	if run.State != store.RunFailed || !strings.Contains(stepOf(run, "deploy").Reason, "release 2 was not healthy within 2s") {
		t.Fatalf("run = %s (%s), deploy %+v\n%s", run.State, run.Reason, stepOf(run, "deploy"), e.log(run.ID))
	}
	rel, err := e.st.GetRelease(t.Context(), "deployer", 2)
	if err != nil {
		t.Fatal(err)
	}
	if stored, _ := e.r.opts.Blobs.Has(t.Context(), rel.Source); rel.Cause != "pipeline" || rel.State != api.ReleasePending || !stored {
		t.Errorf("release = cause %s state %s source %s (stored: %v)", rel.Cause, rel.State, rel.Source, stored)
	}
	a, _ := e.st.GetApp(t.Context(), "deployer")
	if a.TargetRelease != 2 {
		t.Errorf("target release = %d, want 2", a.TargetRelease)
	}
}

func TestScheduleFiresOnceWhenDue(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "nightly", `on: [schedule, manual]
schedule: "*/5 * * * *"
steps:
  - name: tick
    run: echo "$BERTH_TRIGGER"
`, envOpts{})
	// The first run reads the pipeline and remembers its schedule.
	first := e.waitEnd(e.manual("nightly", nil).ID)
	if first.State != store.RunSucceeded {
		t.Fatalf("first run = %s (%s)", first.State, first.Reason)
	}
	ps, err := e.st.GetPipeline(t.Context(), "nightly")
	if err != nil || ps.Schedule != "*/5 * * * *" {
		t.Fatalf("pipeline state = %+v, %v", ps, err)
	}
	if _, err := cron.Parse(ps.Schedule); err != nil {
		t.Fatal(err)
	}
	// Pretend it last fired an hour ago: several times due, fired once.
	ps.LastScheduled = time.Now().Add(-time.Hour)
	if err := e.st.PutPipeline(t.Context(), ps); err != nil {
		t.Fatal(err)
	}
	scheduled := e.waitRun("nightly.2", "scheduled run ends", func(r store.Run) bool { return store.RunTerminal(r.State) })
	if scheduled.Trigger != "schedule" || scheduled.State != store.RunSucceeded || !strings.Contains(e.log("nightly.2"), "[tick] schedule") {
		t.Errorf("scheduled run = %+v\n%s", scheduled, e.log("nightly.2"))
	}
	time.Sleep(300 * time.Millisecond)
	if runs, _ := e.st.ListRuns(t.Context(), store.RunFilter{App: "nightly"}); len(runs) != 2 {
		t.Errorf("%d runs, want 2: a due schedule fires once", len(runs))
	}
}
