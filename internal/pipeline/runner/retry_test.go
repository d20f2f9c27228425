package runner

import (
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/store"
)

// retry on the real driver: a step that fails once and then passes
// succeeds on its second attempt (the run sees that attempt only); one
// that always fails uses up its retries and fails the run with its exit
// code.
func TestRetryOnTheDriver(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "flaky", `on: [manual]
steps:
  - name: flaky
    retry: 2
    run: |
      n=$(cat .tries 2>/dev/null || echo 0); n=$((n+1)); echo $n > .tries
      echo "attempt $n"
      [ "$n" -ge 2 ] || exit 5
  - name: broken
    retry: 1
    run: echo broken; exit 4
`, envOpts{})
	run := e.waitEnd(e.manual("flaky", nil).ID)
	flaky, broken := stepOf(run, "flaky"), stepOf(run, "broken")
	if flaky.Status != "success" || flaky.Attempt != 2 || flaky.ExitCode != 0 {
		t.Errorf("flaky = %+v, want success on attempt 2", flaky)
	}
	if broken.Status != "failure" || broken.Attempt != 2 || broken.ExitCode != 4 {
		t.Errorf("broken = %+v, want failure with exit 4 after 2 attempts", broken)
	}
	if run.State != store.RunFailed || run.ExitCode != 4 {
		t.Errorf("run = %s exit %d (%s)", run.State, run.ExitCode, run.Reason)
	}
	log := e.log(run.ID)
	if strings.Contains(log, "attempt 3") || !strings.Contains(log, "[flaky] attempt 1") || !strings.Contains(log, "[flaky] attempt 2") {
		t.Errorf("log:\n%s", log)
	}
	if n := strings.Count(log, "[broken] broken"); n != 2 {
		t.Errorf("broken ran %d times, want 2 (one retry):\n%s", n, log)
	}
}
