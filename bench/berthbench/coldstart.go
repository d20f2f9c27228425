package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"
)

// coldStart times `berth server` on a fresh data dir (creates the database,
// runs migrations, writes the admin token) until /healthz answers, against
// the same wait for a bare Go HTTP server binary (bench/testsvc).
func coldStart(berth string, runs int) error {
	tmp, err := os.MkdirTemp("", "berthbench-cold")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	svc, err := buildTestSvc(tmp)
	if err != nil {
		return err
	}
	var base, cold []time.Duration
	for i := 0; i < runs; i++ {
		// Baseline: the smallest Go HTTP server, start to first 200.
		port := freePort()
		start := time.Now()
		cmd := exec.Command(svc)
		cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
		if err := cmd.Start(); err != nil {
			return err
		}
		if err := waitHTTP(fmt.Sprintf("http://127.0.0.1:%d/healthz", port), 10*time.Second); err != nil {
			return err
		}
		base = append(base, time.Since(start))
		_ = cmd.Process.Kill()
		_ = cmd.Wait()

		data, err := os.MkdirTemp(tmp, "data")
		if err != nil {
			return err
		}
		start = time.Now()
		s, err := startServer(berth, data)
		if err != nil {
			return err
		}
		cold = append(cold, time.Since(start))
		s.stop()
	}
	mb, mc := median(base), median(cold)
	fmt.Printf("coldstart: runs=%d  bare Go HTTP server median %v  berth server (fresh data dir) median %v  ratio %.1fx  berth overhead %v  (target < 300ms)\n",
		runs, mb.Round(100*time.Microsecond), mc.Round(100*time.Microsecond), float64(mc)/float64(mb), (mc - mb).Round(100*time.Microsecond))
	return nil
}
