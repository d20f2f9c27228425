package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/runtime/runtimetest"
	"github.com/berthdev/berth/internal/spec"
)

// The test binary plays three parts, chosen by environment variables: the
// shim (as `berth shim` would), the conformance suite's test app, and the
// small programs of this package's own tests (testprog_test.go).
const (
	envShim     = "BERTH_LOCAL_TEST_SHIM"
	envTestProg = "BERTH_LOCAL_TEST_PROG"
)

func TestMain(m *testing.M) {
	if os.Getenv(envShim) == "1" {
		os.Exit(ShimMain(os.Args[1:]))
	}
	if kind := os.Getenv(runtimetest.AppEnv); kind != "" {
		os.Exit(runtimetest.AppMain(kind))
	}
	if prog := os.Getenv(envTestProg); prog != "" {
		os.Exit(testProg(prog))
	}
	os.Exit(m.Run())
}

func testExe(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// testOptions are short timings for tests, with the test binary as shim.
func testOptions(t *testing.T, dir string) Options {
	return Options{
		Dir:          dir,
		ShimCommand:  []string{testExe(t)},
		ShimEnv:      []string{envShim + "=1"},
		PollInterval: 50 * time.Millisecond,
		BackoffBase:  100 * time.Millisecond,
		BackoffMax:   400 * time.Millisecond,
		ReadyAfter:   200 * time.Millisecond,
	}
}

// newTestRuntime opens a runtime on dir (a new folder if ""). When the test
// ends, every workload is deleted, the runtime closed, and anything still
// running from dir killed.
func newTestRuntime(t *testing.T, dir string, change ...func(*Options)) *Runtime {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	opts := testOptions(t, dir)
	for _, c := range change {
		c(&opts)
	}
	rt, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if list, err := rt.List(ctx, ""); err == nil {
			for _, ws := range list {
				if err := rt.Delete(ctx, ws.ID); err != nil && err != ErrClosed {
					t.Errorf("cleanup: Delete(%s): %v", ws.ID, err)
				}
			}
		}
		rt.Close()
		if err := StopAll(ctx, dir); err != nil {
			t.Errorf("cleanup: StopAll: %v", err)
		}
		killLeftovers(t, dir)
	})
	return rt
}

// killLeftovers kills every shim and process recorded under dir, so a
// failed test does not leave processes behind on a shared machine.
func killLeftovers(t *testing.T, dir string) {
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != fileState {
			return nil
		}
		st, err := readState(filepath.Dir(path))
		if err != nil {
			return nil
		}
		if sameProcess(st.ShimPID, st.ShimStart) {
			_ = syscall.Kill(st.ShimPID, syscall.SIGKILL)
		}
		if sameProcess(st.PID, st.PIDStart) {
			_ = syscall.Kill(-st.PID, syscall.SIGKILL)
		}
		for _, cg := range st.Cgroups {
			killCgroup(cg)
			removeCgroup(cg)
		}
		return nil
	})
}

// suiteWorkload is the Harness's Workload: the test binary as test app.
func suiteWorkload(t *testing.T, name string, kind runtimetest.Kind) runtime.Workload {
	w := runtime.Workload{
		ID: "wl-" + name, App: "suite", Service: name, Release: 1, Replicas: 1,
		Spec: spec.Service{
			Command:         []string{testExe(t)},
			Env:             map[string]string{runtimetest.AppEnv: kind.String()},
			StopGracePeriod: spec.Duration(2 * time.Second),
		},
	}
	if kind != runtimetest.CrashOnStart {
		w.Spec.Health = &spec.Health{
			HTTP:             &spec.HTTPCheck{Path: runtimetest.HealthPath},
			Interval:         spec.Duration(100 * time.Millisecond),
			Timeout:          spec.Duration(time.Second),
			FailureThreshold: 2,
			SuccessThreshold: 1,
		}
	}
	return w
}

// testProgWorkload runs one of testprog_test.go's programs.
func testProgWorkload(t *testing.T, id, prog string, env map[string]string) runtime.Workload {
	e := map[string]string{envTestProg: prog}
	for k, v := range env {
		e[k] = v
	}
	return runtime.Workload{
		ID: id, App: "local", Service: prog, Release: 1, Replicas: 1,
		Spec: spec.Service{Command: []string{testExe(t)}, Env: e, StopGracePeriod: spec.Duration(time.Second)},
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	runtimetest.Run(t, runtimetest.Harness{
		New:      func(t *testing.T) runtime.Runtime { return newTestRuntime(t, "") },
		Workload: suiteWorkload,
		KillProcess: func(t *testing.T, inst runtime.Instance) {
			if err := syscall.Kill(inst.PID, syscall.SIGKILL); err != nil {
				t.Fatalf("kill %d: %v", inst.PID, err)
			}
		},
		ProcessGone: func(t *testing.T, inst runtime.Instance) bool {
			_, alive := procStartTime(inst.PID)
			return !alive
		},
	})
}

// eventually polls cond until it returns "" or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		last := cond()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still waiting for %s: %s", timeout, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustStatus(t *testing.T, rt *Runtime, id string) runtime.WorkloadStatus {
	t.Helper()
	ws, err := rt.Status(context.Background(), id)
	if err != nil {
		t.Fatalf("Status(%s): %v", id, err)
	}
	return ws
}

func waitReady(t *testing.T, rt *Runtime, id string, n int) runtime.WorkloadStatus {
	t.Helper()
	var ws runtime.WorkloadStatus
	eventually(t, 20*time.Second, fmt.Sprintf("%d ready instances", n), func() string {
		ws = mustStatus(t, rt, id)
		if ws.Ready == n && len(ws.Instances) == n {
			return ""
		}
		return describe(ws)
	})
	return ws
}

func describe(ws runtime.WorkloadStatus) string {
	var b strings.Builder
	for _, in := range ws.Instances {
		fmt.Fprintf(&b, "[%s %s ready=%v pid=%d restarts=%d %q] ", in.ID, in.State, in.Ready, in.PID, in.Restarts, in.Message)
	}
	return b.String()
}
