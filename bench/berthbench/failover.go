package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// failover measures, with three servers on one PostgreSQL database and
// the default lease (6 s), the time from kill -9 of the leader to
// (a) another server holding the lease and (b) the new leader acting: a
// delete asked of a follower right after the kill has stopped the app's
// instance. The baseline, in the same run, is the same with a clean stop
// of the leader (SIGTERM), which releases the lease at once.
func failover(berth, admin string, runs int) error {
	if runs > 7 {
		runs = 7 // each round waits out a lease: keep the run short
	}
	var kill, clean [2][]time.Duration
	for i := range runs {
		for _, side := range []struct {
			sig syscall.Signal
			out *[2][]time.Duration
		}{{syscall.SIGKILL, &kill}, {syscall.SIGTERM, &clean}} {
			lease, act, err := failoverRound(berth, admin, side.sig, i)
			if err != nil {
				return err
			}
			side.out[0] = append(side.out[0], lease)
			side.out[1] = append(side.out[1], act)
			fmt.Fprintf(os.Stderr, "round %d %s: lease taken after %s, new leader acting after %s\n", i, side.sig, lease.Round(time.Millisecond), act.Round(time.Millisecond))
		}
	}
	fmt.Printf("failover, 3 servers, lease 6s, %d rounds (median):\n", runs)
	fmt.Printf("  baseline, clean stop (lease released): lease taken %s, acting %s\n", median(clean[0]).Round(time.Millisecond), median(clean[1]).Round(time.Millisecond))
	fmt.Printf("  kill -9 of the leader:                 lease taken %s, acting %s\n", median(kill[0]).Round(time.Millisecond), median(kill[1]).Round(time.Millisecond))
	fmt.Printf("  ratio (acting, kill -9 / clean stop):  %.1fx\n", float64(median(kill[1]))/float64(median(clean[1])))
	return nil
}

// failoverRound starts three servers on a fresh database, deploys one
// instance, stops the leader with sig and measures.
func failoverRound(berth, admin string, sig syscall.Signal, round int) (lease, act time.Duration, err error) {
	ctx := context.Background()
	name := fmt.Sprintf("berth_failover_%d_%d_%d", os.Getpid(), round, sig)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return 0, 0, fmt.Errorf("connect to %s: %w", admin, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return 0, 0, err
	}
	defer func() { _, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") }()
	u, err := url.Parse(admin)
	if err != nil {
		return 0, 0, err
	}
	u.Path = "/" + name
	db := u.String()

	data, err := os.MkdirTemp("", "berth-failover")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(data)
	var servers []*server
	defer func() {
		for _, s := range servers {
			if s.cmd.ProcessState == nil {
				s.stop()
			}
		}
	}()
	for range 3 {
		s, err := startServer(berth, data, "--database", db)
		if err != nil {
			return 0, 0, err
		}
		servers = append(servers, s)
	}
	dbc, err := pgx.Connect(ctx, db)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = dbc.Close(ctx) }()
	holder := func() (string, bool) {
		var h string
		var valid bool
		_ = dbc.QueryRow(ctx, `SELECT holder, expires_at > now() FROM leader_leases WHERE name = 'berth-leader'`).Scan(&h, &valid)
		return h[strings.LastIndexByte(h, '@')+1:], valid
	}
	var leader, follower *server
	for deadline := time.Now().Add(30 * time.Second); leader == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("no leader after 30s")
		}
		if addr, ok := holder(); ok {
			for _, s := range servers {
				if s.api == addr {
					leader = s
				}
			}
		}
	}
	for _, s := range servers {
		if s != leader {
			follower = s
		}
	}
	mark := strconv.Itoa(50000 + os.Getpid()%10000 + round)
	app := filepath.Join(data, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		return 0, 0, err
	}
	y := fmt.Sprintf("name: fo\nservices:\n  s:\n    command: [\"sleep\", %q]\n", mark)
	if err := os.WriteFile(filepath.Join(app, "berth.yaml"), []byte(y), 0o644); err != nil {
		return 0, 0, err
	}
	if _, err := follower.berth(berth, "apply", "-f", app, "--timeout", "2m"); err != nil {
		return 0, 0, err
	}
	pid := sleeperPID(mark)
	if pid == 0 {
		return 0, 0, fmt.Errorf("the app's instance is not running")
	}

	start := time.Now()
	_ = leader.cmd.Process.Signal(sig)
	if _, err := follower.berth(berth, "delete", "fo"); err != nil {
		return 0, 0, err
	}
	for lease == 0 || act == 0 {
		if time.Since(start) > time.Minute {
			return 0, 0, fmt.Errorf("no failover within a minute (lease %s, acting %s)", lease, act)
		}
		if addr, ok := holder(); lease == 0 && ok && addr != leader.api {
			lease = time.Since(start)
		}
		if act == 0 && sleeperPID(mark) == 0 {
			act = time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = leader.cmd.Wait()
	return lease, act, nil
}

// sleeperPID finds the live process `sleep mark`, 0 if none.
func sleeperPID(mark string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if err == nil && len(args) == 2 && filepath.Base(args[0]) == "sleep" && args[1] == mark {
			st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if i := strings.LastIndexByte(string(st), ')'); i > 0 && len(st) > i+2 && st[i+2] != 'Z' {
				return pid
			}
		}
	}
	return 0
}
