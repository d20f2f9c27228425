package pglease_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/berthdev/berth/internal/leader"
	"github.com/berthdev/berth/internal/leader/pglease"
)

// The helper process: this test binary, re-executed, campaigns for lease
// "l" and, once it has led, keeps writing at its last epoch from a
// goroutine that does not stop with the term (the worst case: work that
// did not notice in time), and "acts" whenever its term's Check allows.
// It prints one line per event: "lead E", "ok E", "fenced E", "act E".
const (
	helperEnv   = "PGLEASE_TEST_HELPER"
	helperLease = 3 * time.Second
)

func helperMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	pool, err := pgxpool.New(ctx, os.Getenv(helperEnv))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer pool.Close()
	s, err := pglease.New(ctx, pool)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	db := stdlib.OpenDBFromPool(pool)
	var mu sync.Mutex
	say := func(f string, a ...any) { mu.Lock(); fmt.Printf(f+"\n", a...); mu.Unlock() }
	var epoch atomic.Int64
	var cur atomic.Pointer[leader.Term]
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			if t := cur.Load(); t != nil && (*t).Check() == nil {
				say("act %d", (*t).Epoch())
			}
			e := epoch.Load()
			if e == 0 {
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := fencedWrite(wctx, db, e)
			cancel()
			switch {
			case err == nil:
				say("ok %d", e)
			case errorsIsFenced(err):
				say("fenced %d", e)
			}
		}
	}()
	el, err := leader.NewLease(leader.LeaseOptions{Store: s, Name: "l", Holder: fmt.Sprint(os.Getpid()),
		LeaseDuration: helperLease, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	_ = el.Run(ctx, func(ctx context.Context, t leader.Term) {
		say("lead %d", t.Epoch())
		epoch.Store(t.Epoch())
		cur.Store(&t)
		<-ctx.Done()
		cur.Store(nil)
	})
	wg.Wait()
	return 0
}

// helper is one running helper process and the lines it printed.
type helper struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
}

func startHelper(t *testing.T, url string) *helper {
	t.Helper()
	h := &helper{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	h.cmd.Env = append(os.Environ(), helperEnv+"="+url)
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.mu.Lock()
			h.lines = append(h.lines, sc.Text())
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = h.cmd.Process.Signal(syscall.SIGCONT)
		_ = h.cmd.Process.Kill()
		_ = h.cmd.Wait()
	})
	return h
}

// since returns the lines printed from index i on.
func (h *helper) since(i int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines[min(i, len(h.lines)):]...)
}

func (h *helper) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.lines)
}

// waitLine waits for a line equal to want among the lines from index i.
func (h *helper) waitLine(t *testing.T, i int, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, l := range h.since(i) {
			if l == want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q within %s; lines: %v", want, timeout, h.since(i))
}

func errorsIsFenced(err error) bool {
	return err != nil && strings.Contains(err.Error(), leader.ErrFenced.Error())
}

// TestPausedLeaderIsFenced: SIGSTOP the leader past its lease, let another
// take over, SIGCONT it. Every write it then attempts is rejected by the
// epoch, none lands, and it never acts again.
func TestPausedLeaderIsFenced(t *testing.T) {
	_, pool, url := open(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE writes (epoch bigint, at timestamptz)`); err != nil {
		t.Fatal(err)
	}
	a := startHelper(t, url)
	a.waitLine(t, 0, "lead 1", 10*time.Second)
	a.waitLine(t, 0, "ok 1", 10*time.Second)
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := a.count()
	b := startHelper(t, url)
	// The bound: another leads within the lease time (say 10 s).
	b.waitLine(t, 0, "lead 2", 10*time.Second)
	b.waitLine(t, 0, "ok 2", 10*time.Second)
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Let the resumed leader try for a while.
	for deadline := time.Now().Add(10 * time.Second); ; {
		n := 0
		for _, l := range a.since(paused) {
			if l == "fenced 1" {
				n++
			}
		}
		if n >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resumed leader attempted %d writes; lines: %v", n, a.since(paused))
		}
		time.Sleep(20 * time.Millisecond)
	}
	rejected := 0
	for _, l := range a.since(paused) {
		switch {
		case l == "fenced 1":
			rejected++
		case l == "ok 1", l == "act 1":
			t.Errorf("the resumed old leader did %q after another took over", l)
		}
	}
	var late int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM writes w, leader_leases l WHERE l.name = 'l' AND w.epoch = 1 AND w.at >= l.acquired_at`).Scan(&late); err != nil {
		t.Fatal(err)
	}
	if late != 0 {
		t.Errorf("%d writes at epoch 1 landed after epoch 2 was acquired", late)
	}
	t.Logf("after SIGCONT the old leader attempted %d writes, all rejected by the epoch; none landed", rejected)
}

// TestKilledLeaderIsReplaced: kill -9 the leader; the other takes over.
func TestKilledLeaderIsReplaced(t *testing.T) {
	_, pool, url := open(t)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE writes (epoch bigint, at timestamptz)`); err != nil {
		t.Fatal(err)
	}
	a := startHelper(t, url)
	a.waitLine(t, 0, "lead 1", 10*time.Second)
	b := startHelper(t, url)
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	b.waitLine(t, 0, "lead 2", 10*time.Second)
	b.waitLine(t, 0, "ok 2", 10*time.Second)
}
