// Command pipeline measures the pipeline run driver on this machine, each
// figure beside its baseline from the same run:
//
//   - overhead per step: a 20-step pipeline of trivial commands (each step
//     needs the one before) against the same 20 commands in one plain
//     shell script, run as the same user;
//   - 50 concurrent runs of a 3-step pipeline: all must succeed.
//
// It runs the real driver in-process: a SQLite store, the local executor
// (steps as nobody when run as root), a Git repository served over HTTP
// on 127.0.0.1 with git http-backend. Usage: go run ./bench/pipeline
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/executor/local"
	"github.com/berthdev/berth/internal/pipeline/runner"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

func main() {
	rounds := flag.Int("rounds", 5, "rounds of the 20-step comparison (the median is reported)")
	concurrent := flag.Int("concurrent", 50, "runs started at once in the concurrency test")
	flag.Parse()
	if err := run(*rounds, *concurrent); err != nil {
		fmt.Fprintln(os.Stderr, "bench/pipeline:", err)
		os.Exit(1)
	}
}

const steps = 20

func run(rounds, concurrent int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tmp, err := os.MkdirTemp("", "berth-bench-pipeline-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	dataDir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return err
	}

	// The repository: berth.yaml and two pipelines, on two apps.
	url, stopGit, err := serveRepo(tmp)
	if err != nil {
		return err
	}
	defer stopGit()

	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "berth.db"))
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	blobs, err := blob.New(filepath.Join(dataDir, "blobs"))
	if err != nil {
		return err
	}
	ex, err := local.New(ctx, local.Options{})
	if err != nil {
		return err
	}
	r, err := runner.New(ctx, runner.Options{
		Store: st, Blobs: blobs, Executor: ex, DataDir: dataDir, WorkDir: filepath.Join(tmp, "work"),
		Logger: slog.New(slog.DiscardHandler), PerPipeline: concurrent, PerTeam: concurrent, Tick: 20 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	for _, app := range []string{"chain", "wide"} {
		if err := addApp(ctx, st, app, url); err != nil {
			return err
		}
	}

	fmt.Printf("pipeline overhead: %d sequential steps of `echo step N` vs one shell script of the same commands, %d rounds\n", steps, rounds)
	var perStep, scriptTimes, stepPhases, runTimes []time.Duration
	for i := range rounds {
		script, err := shellScript(ex.Unprivileged())
		if err != nil {
			return err
		}
		res, err := startAndWait(ctx, r, st, "chain")
		if err != nil {
			return err
		}
		if res.State != store.RunSucceeded {
			return fmt.Errorf("run %s %s: %s", res.ID, res.State, res.Reason)
		}
		first, last := res.Steps[0].StartedAt, res.Steps[len(res.Steps)-1].FinishedAt
		phase := last.Sub(first)
		over := (phase - script) / steps
		fmt.Printf("  round %d: script %v, steps phase %v (whole run %v, with checkout) -> %.2f ms/step\n",
			i+1, script.Round(time.Microsecond), phase.Round(time.Microsecond), res.FinishedAt.Sub(res.CreatedAt).Round(time.Millisecond), ms(over))
		perStep, scriptTimes, stepPhases = append(perStep, over), append(scriptTimes, script), append(stepPhases, phase)
		runTimes = append(runTimes, res.FinishedAt.Sub(res.CreatedAt))
	}
	fmt.Printf("RESULT overhead: script %v, %d steps %v, whole run %v -> median %.2f ms per step (target < 15 ms)\n",
		median(scriptTimes).Round(time.Microsecond), steps, median(stepPhases).Round(time.Microsecond), median(runTimes).Round(time.Millisecond), ms(median(perStep)))

	fmt.Printf("concurrency: %d runs of a 3-step pipeline started at once\n", concurrent)
	start := time.Now()
	ids := make([]string, concurrent)
	for i := range concurrent {
		run, err := r.Start(ctx, runner.StartRequest{App: "wide", Trigger: pipeline.EventManual, By: "bench"})
		if err != nil {
			return err
		}
		ids[i] = run.ID
	}
	var (
		mu       sync.Mutex
		failures []string
		durs     []time.Duration
		wg       sync.WaitGroup
	)
	for _, id := range ids {
		wg.Go(func() {
			res, err := waitEnd(ctx, st, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || res.State != store.RunSucceeded {
				failures = append(failures, fmt.Sprintf("%s: %s %s %v", id, res.State, res.Reason, err))
				return
			}
			durs = append(durs, res.FinishedAt.Sub(res.CreatedAt))
		})
	}
	wg.Wait()
	wall := time.Since(start)
	slices.Sort(durs)
	fmt.Printf("RESULT concurrency: %d/%d succeeded, %d failed, all done in %v; per run (queued to end) median %v, max %v\n",
		len(durs), concurrent, len(failures), wall.Round(time.Millisecond), median(durs).Round(time.Millisecond), maxOf(durs).Round(time.Millisecond))
	for _, f := range failures {
		fmt.Println("  failed:", f)
	}
	if len(failures) > 0 {
		return errors.New("some concurrent runs failed")
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func maxOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

// shellScript times the same commands as one script, as the step user.
func shellScript(unprivileged bool) (time.Duration, error) {
	var b strings.Builder
	for i := 1; i <= steps; i++ {
		fmt.Fprintf(&b, "echo step %d\n", i)
	}
	cmd := exec.Command("/bin/sh", "-c", b.String())
	cmd.Env = []string{"PATH=" + local.DefaultPath}
	if unprivileged {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	}
	start := time.Now()
	err := cmd.Run()
	return time.Since(start), err
}

func startAndWait(ctx context.Context, r *runner.Runner, st store.Store, app string) (store.Run, error) {
	run, err := r.Start(ctx, runner.StartRequest{App: app, Trigger: pipeline.EventManual, By: "bench"})
	if err != nil {
		return store.Run{}, err
	}
	return waitEnd(ctx, st, run.ID)
}

func waitEnd(ctx context.Context, st store.Store, id string) (store.Run, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		run, err := st.GetRun(ctx, id)
		if err != nil {
			return run, err
		}
		if store.RunTerminal(run.State) {
			return run, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return store.Run{}, fmt.Errorf("run %s did not end in 5 minutes", id)
}

func addApp(ctx context.Context, st store.Store, app, url string) error {
	a, err := spec.Parse([]byte("name: " + app + "\nsource: {git: " + url + "/" + app + ".git, branch: main}\nservices:\n  web:\n    command: [sleep, \"1000\"]\n"))
	if err != nil {
		return err
	}
	canonical, err := a.Canonical()
	if err != nil {
		return err
	}
	return st.InTx(ctx, func(tx store.Tx) error {
		_, err := release.Apply(ctx, tx, release.Input{Name: app, Canonical: canonical, Team: "bench", Now: time.Now()})
		return err
	})
}

// serveRepo creates the repositories chain.git and wide.git and serves
// them over smart HTTP.
func serveRepo(tmp string) (string, func(), error) {
	root := filepath.Join(tmp, "git")
	var chain strings.Builder
	chain.WriteString("on: [manual]\nsteps:\n")
	for i := 1; i <= steps; i++ {
		fmt.Fprintf(&chain, "  - name: s%d\n    run: echo step %d\n", i, i)
		if i > 1 {
			fmt.Fprintf(&chain, "    needs: [s%d]\n", i-1)
		}
	}
	wide := "on: [manual]\nsteps:\n  - name: a\n    run: echo a\n  - name: b\n    needs: [a]\n    run: sleep 0.1\n  - name: c\n    needs: [b]\n    run: echo c\n"
	for app, pl := range map[string]string{"chain": chain.String(), "wide": wide} {
		work := filepath.Join(tmp, "src-"+app)
		if err := os.MkdirAll(filepath.Join(work, ".berth"), 0o755); err != nil {
			return "", nil, err
		}
		if err := os.WriteFile(filepath.Join(work, ".berth", "pipeline.yaml"), []byte(pl), 0o644); err != nil {
			return "", nil, err
		}
		bare := filepath.Join(root, app+".git")
		for _, args := range [][]string{
			{"init", "-q", work}, {"-C", work, "add", "-A"}, {"-C", work, "commit", "-q", "-m", "bench"},
			{"clone", "-q", "--bare", work, bare}, {"-C", bare, "config", "uploadpack.allowReachableSHA1InWant", "true"},
		} {
			if err := git(tmp, args...); err != nil {
				return "", nil, err
			}
		}
	}
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return "", nil, err
	}
	srv := httptest.NewServer(&cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1"},
	})
	return srv.URL, srv.Close, nil
}

func git(home string, args ...string) error {
	cmd := exec.Command("git", append([]string{"-c", "user.name=Bench", "-c", "user.email=bench@example.com",
		"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+home)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %v: %w\n%s", args, err, out)
	}
	return nil
}
