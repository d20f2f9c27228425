package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/build"
	"github.com/berthdev/berth/internal/runtime/local"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/internal/svcproxy"
	"github.com/berthdev/berth/pkg/api"
)

// The test binary also plays the local runtime's shim and the app's
// services, chosen by environment variables.
const (
	envShim = "BERTH_DEPLOY_TEST_SHIM"
	envApp  = "BERTH_DEPLOY_TEST_APP"
)

func TestMain(m *testing.M) {
	if os.Getenv(envShim) == "1" {
		os.Exit(local.ShimMain(os.Args[1:]))
	}
	if os.Getenv(envApp) != "" {
		os.Exit(testApp())
	}
	os.Exit(m.Run())
}

// testApp answers "<service> r<release>", followed by what its dependency
// answers when it has one (API_URL), and stops gracefully on SIGTERM.
// With EXIT set it exits at once with that code.
func testApp() int {
	if code := os.Getenv("EXIT"); code != "" {
		fmt.Println("starting")
		fmt.Println("cannot connect to the database")
		n, _ := strconv.Atoi(code)
		return n
	}
	me := os.Getenv("BERTH_SERVICE") + " r" + os.Getenv("BERTH_RELEASE")
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("PORT"), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := me
		if up := os.Getenv("API_URL"); up != "" {
			resp, err := http.Get(up)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out += " -> " + string(b)
		}
		io.WriteString(w, out)
	})}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestIntegrationLocal runs the reconciler against the real parts: the
// local runtime with real processes, the builder, the service proxy and a
// SQLite store.
func TestIntegrationLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rt, err := local.New(ctx, local.Options{
		Dir: filepath.Join(dir, "runtime"), ShimCommand: []string{exe}, ShimEnv: []string{envShim + "=1"},
		PollInterval: 50 * time.Millisecond, BackoffBase: 50 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		ReadyAfter: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Runs last: a test that fails half-way must not leave processes
	// behind on a shared machine.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := local.StopAll(ctx, filepath.Join(dir, "runtime")); err != nil {
			t.Errorf("stop leftovers: %v", err)
		}
	}()
	defer rt.Close()
	blobs, err := blob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := build.New(filepath.Join(dir, "builds"), blobs, nil)
	if err != nil {
		t.Fatal(err)
	}
	px := svcproxy.New(nil)
	defer px.Close()
	r := New(Options{
		Store: db, Runtime: rt, Builder: b, Proxy: px,
		Requeue: 50 * time.Millisecond, Resync: time.Second,
		VolumeDir: filepath.Join(dir, "volumes"),
	})
	runCtx, cancel := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- r.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Error(err)
		}
	}()

	service := func(n int, env map[string]string, deps ...string) *spec.Service {
		e := map[string]string{envApp: "1"}
		for k, v := range env {
			e[k] = v
		}
		return &spec.Service{
			Command: []string{exe}, Replicas: &n, Env: e, DependsOn: deps, Build: "echo built",
			Health:          &spec.Health{HTTP: &spec.HTTPCheck{Path: "/"}, Interval: spec.Duration(50 * time.Millisecond)},
			StopGracePeriod: spec.Duration(2 * time.Second),
			Volumes:         []spec.Volume{{Name: "data", Path: "/data"}},
		}
	}
	apply := func(a *spec.App) int {
		t.Helper()
		data, err := a.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		// One transaction, as the API does, so the running reconciler
		// never makes it conflict.
		var n int
		err = db.InTx(ctx, func(tx store.Tx) error {
			app, err := tx.GetApp(ctx, a.Name)
			if errors.Is(err, store.ErrNotFound) {
				app = store.App{Name: a.Name, CreatedAt: now, UpdatedAt: now}
				if err := tx.CreateApp(ctx, app); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
			n = app.LatestRelease + 1
			if err := tx.CreateRelease(ctx, store.Release{App: a.Name, Number: n, Spec: data, SpecHash: "h", Cause: "apply",
				State: api.ReleasePending, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			app.LatestRelease, app.TargetRelease = n, n
			_, err = tx.UpdateApp(ctx, app)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		r.Notify(a.Name)
		return n
	}
	waitStatus := func(what string, ok func(api.AppStatus) bool) store.App {
		t.Helper()
		var a store.App
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if a, err = db.GetApp(ctx, "shop"); err == nil && ok(a.Status) {
				return a
			}
		}
		t.Fatalf("timed out waiting for %s; status %+v", what, a.Status)
		return a
	}
	get := func(port int) (string, error) {
		resp, err := httpClient.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return string(body), err
	}

	apply(appSpec("shop", map[string]*spec.Service{"api": service(2, nil), "web": service(1, nil, "api")}))
	a := waitStatus("release 1 running", func(s api.AppStatus) bool { return s.Phase == api.PhaseRunning && s.Serving == 1 })
	if got, err := get(a.Ports["web"]); err != nil || got != "web r1 -> api r1" {
		t.Fatalf("web answers %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "volumes", "shop", "api", "data")); err != nil {
		t.Fatalf("volume: %v", err)
	}

	// A rolling update of api under load: no request through the stable
	// address fails.
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		failures atomic.Int64
		lastErr  atomic.Value
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := get(a.Ports["api"]); err != nil {
					failures.Add(1)
					lastErr.Store(err.Error())
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	apply(appSpec("shop", map[string]*spec.Service{"api": service(2, map[string]string{"V": "2"}), "web": service(1, nil, "api")}))
	waitStatus("release 2 running", func(s api.AppStatus) bool { return s.Phase == api.PhaseRunning && s.Serving == 2 })
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests failed during the rollout; last: %v", n, lastErr.Load())
	}
	if got, err := get(a.Ports["web"]); err != nil || got != "web r2 -> api r2" {
		t.Fatalf("web answers %q, %v", got, err)
	}

	// A release whose api crashes fails; release 2 keeps serving.
	apply(appSpec("shop", map[string]*spec.Service{"api": service(2, map[string]string{"EXIT": "3"}), "web": service(1, nil, "api")}))
	a = waitStatus("release 3 failed", func(s api.AppStatus) bool { return s.Phase == api.PhaseFailed && s.Release == 3 })
	rel, err := db.GetRelease(ctx, "shop", 3)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Reason != ReasonCrashLoop || !strings.Contains(rel.Message, "service api: exited with code 3 after") ||
		!strings.Contains(rel.Message, "cannot connect to the database") {
		t.Fatalf("release 3: %s %q", rel.Reason, rel.Message)
	}
	waitStatus("release 3 gone", func(s api.AppStatus) bool {
		for _, svc := range s.Services {
			for _, in := range svc.Instances {
				if in.Release == 3 {
					return false
				}
			}
		}
		return len(s.Services) == 2
	})
	if got, err := get(a.Ports["web"]); err != nil || got != "web r2 -> api r2" {
		t.Fatalf("after the failed release web answers %q, %v", got, err)
	}

	// Delete: every process stops, the record goes.
	err = db.InTx(ctx, func(tx store.Tx) error {
		a, err := tx.GetApp(ctx, "shop")
		if err != nil {
			return err
		}
		a.Deleting = true
		_, err = tx.UpdateApp(ctx, a)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Notify("shop")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := db.GetApp(ctx, "shop"); errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("app not deleted")
		}
	}
	if wls, err := rt.List(ctx, "shop"); err != nil || len(wls) != 0 {
		t.Fatalf("workloads left: %v %v", wls, err)
	}
}

var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
