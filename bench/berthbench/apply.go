package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const services = 10

// appSpec is an app of n services of the prebuilt test binary: no build, so
// what is timed is Berth's own work plus the services' start.
func appSpec(name, svc string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nservices:\n", name)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  s%d:\n    command: [%q]\n    ports: [8080]\n    health:\n      http: {path: /healthz}\n      interval: 50ms\n      timeout: 40ms\n", i, svc)
	}
	return b.String()
}

// applyToHealthy times `berth apply --wait` of a 10-service app until every
// service is healthy, against starting the same 10 processes directly and
// polling their health every millisecond.
func applyToHealthy(berth string, runs int) error {
	tmp, err := os.MkdirTemp("", "berthbench-apply")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	svc, err := buildTestSvc(tmp)
	if err != nil {
		return err
	}
	s, err := startServer(berth, filepath.Join(tmp, "data"))
	if err != nil {
		return err
	}
	defer s.stop()

	var base, withBerth []time.Duration
	for i := 0; i < runs; i++ {
		d, err := startDirect(svc, services)
		if err != nil {
			return err
		}
		base = append(base, d)

		dir := filepath.Join(tmp, fmt.Sprintf("app%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		name := fmt.Sprintf("bench%d", i)
		if err := os.WriteFile(filepath.Join(dir, "berth.yaml"), []byte(appSpec(name, svc, services)), 0o644); err != nil {
			return err
		}
		start := time.Now()
		if out, err := s.berth(berth, "apply", "-f", dir, "--timeout", "1m"); err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
		withBerth = append(withBerth, time.Since(start))
		if _, err := s.berth(berth, "delete", name, "--wait"); err != nil {
			return err
		}
	}
	mb, mw := median(base), median(withBerth)
	fmt.Printf("apply: runs=%d services=%d  direct start-to-healthy median %v  berth apply-to-healthy median %v  ratio %.1fx  berth overhead %v  (target < 200ms)\n",
		runs, services, mb.Round(100*time.Microsecond), mw.Round(100*time.Microsecond), float64(mw)/float64(mb), (mw - mb).Round(100*time.Microsecond))
	return nil
}

// startDirect starts n copies of svc and returns when all answer /healthz.
func startDirect(svc string, n int) (time.Duration, error) {
	start := time.Now()
	cmds := make([]*exec.Cmd, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range cmds {
		port := freePort()
		cmds[i] = exec.Command(svc)
		cmds[i].Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
		if err := cmds[i].Start(); err != nil {
			return 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = waitHTTP(fmt.Sprintf("http://127.0.0.1:%d/healthz", port), 10*time.Second)
		}()
	}
	wg.Wait()
	d := time.Since(start)
	for _, c := range cmds {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return d, nil
}
