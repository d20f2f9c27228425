package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/pkg/api"
)

// The HA tests run several `berth server` processes on one PostgreSQL
// database and one data directory: on one machine the replicas share the
// data directory (blobs, builds, logs, the master key, the local
// runtime's folder), and only the leader opens the local runtime, whose
// folder lock lets one supervisor at a time adopt the instances.
// TestHASourceAcrossDataDirs gives each replica its own, as on two
// machines: source archives travel through the database.

// haLease is short, so failovers in tests are quick.
const haLease = "3s"

// failoverBound is the bound on a failover: another server leads
// within the lease time ("say under 10 s").
const failoverBound = 10 * time.Second

type cluster struct {
	t        *testing.T
	dataDir  string
	db       string
	replicas []*server
}

func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, dataDir: t.TempDir(), db: pgtest.URL(t)}
	t.Cleanup(c.cleanup)
	for range n {
		// One at a time: the first creates the admin token the others read.
		c.replicas = append(c.replicas, c.start(freeAddr(t)))
	}
	return c
}

func (c *cluster) start(apiAddr string) *server {
	return startServer(c.t, c.dataDir, apiAddr, "", "--database", c.db, "--lease-duration", haLease)
}

// cleanup stops every replica, then every instance they left.
func (c *cluster) cleanup() {
	for _, s := range c.replicas {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		s.stop()
		if c.t.Failed() {
			c.t.Logf("replica %s log:\n%s", s.api, s.log)
		}
	}
	if len(c.replicas) > 0 {
		srv := c.replicas[0]
		cleanupApps(c.t, &srv) // registered last, runs next: stops leftovers
	}
}

// leaseHolder reads the lease row: which replica's API address holds it,
// its epoch, and whether it is valid now.
func (c *cluster) leaseHolder() (addr string, epoch int64, valid bool) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.db)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close(ctx)
	var holder string
	err = conn.QueryRow(ctx, `SELECT holder, epoch, expires_at > now() FROM leader_leases WHERE name = 'berth-leader'`).Scan(&holder, &epoch, &valid)
	if err != nil && err != pgx.ErrNoRows {
		c.t.Fatal(err)
	}
	if i := strings.LastIndexByte(holder, '@'); i >= 0 {
		addr = holder[i+1:]
	}
	return addr, epoch, valid
}

// leader waits for a valid lease held by a replica other than not, and
// returns it with its epoch.
func (c *cluster) leader(not *server, timeout time.Duration) (*server, int64) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		addr, epoch, valid := c.leaseHolder()
		for _, s := range c.replicas {
			if valid && s.api == addr && s != not && s.cmd.ProcessState == nil {
				return s, epoch
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no replica (other than the old leader) leads after %s; lease holder %q valid %v", timeout, addr, valid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) follower(l *server) *server {
	for _, s := range c.replicas {
		if s != l && s.cmd.ProcessState == nil {
			return s
		}
	}
	c.t.Fatal("no follower")
	return nil
}

// sleeperApp writes an app whose instances run `sleep <mark>`, so the
// test can count them in /proc by their command line.
func sleeperApp(t *testing.T, name, mark string, replicas int) string {
	t.Helper()
	dir := t.TempDir()
	y := fmt.Sprintf("name: %s\nservices:\n  sleeper:\n    command: [\"sleep\", %q]\n    replicas: %d\n", name, mark, replicas)
	if err := os.WriteFile(filepath.Join(dir, "berth.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// processesRunning lists live processes whose command line is `sleep
// mark` (the runtime starts the command by its full path).
func processesRunning(t *testing.T, mark string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if err == nil && len(args) == 2 && filepath.Base(args[0]) == "sleep" && args[1] == mark && pidAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestHAFailover: three servers on one database; kill -9 the leader;
// another leads within the bound, adopts the running instances without
// starting any of them again, and acts on what a follower is asked.
func TestHAFailover(t *testing.T) {
	c := startCluster(t, 3)
	old, epoch := c.leader(nil, failoverBound)
	f := c.follower(old)
	mark := fmt.Sprintf("%d.%d", 7000+os.Getpid()%1000, time.Now().UnixNano()%1000)
	// Applied through a follower: its write reaches the leader's
	// reconciler through the database's notifications.
	f.mustBerth("apply", "-f", sleeperApp(t, "ha", mark, 2), "--timeout", "2m")
	// Logs come from the leader's runtime; a follower forwards the call.
	f.mustBerth("logs", "ha")
	before := instancePIDs(f.app("ha"))
	if len(before) != 2 || len(processesRunning(t, mark)) != 2 {
		t.Fatalf("before the failover: instances %v, processes %v", before, processesRunning(t, mark))
	}

	killed := time.Now()
	old.kill()
	next, nextEpoch := c.leader(old, failoverBound)
	t.Logf("replica %s leads (epoch %d) %s after the leader (epoch %d) was killed", next.api, nextEpoch, time.Since(killed).Round(time.Millisecond), epoch)
	if nextEpoch <= epoch {
		t.Fatalf("the new leader's epoch %d is not above the old %d", nextEpoch, epoch)
	}

	// The new leader adopts the instances: same PIDs, nothing started
	// again, while its reconciler and the runtime's loop run a few passes.
	for range 15 {
		time.Sleep(200 * time.Millisecond)
		if p := processesRunning(t, mark); len(p) != 2 {
			t.Fatalf("after the failover %d instance processes run (%v), want the same 2", len(p), p)
		}
	}
	after := instancePIDs(next.app("ha"))
	for id, pid := range before {
		if after[id] != pid || !pidAlive(pid) {
			t.Fatalf("instance %s: pid %d before the failover, %d after (%v)", id, pid, after[id], after)
		}
	}
	// And it acts: a delete asked of a follower is carried out.
	c.follower(next).mustBerth("delete", "ha", "--wait")
	eventually(t, 30*time.Second, "instances stopped by the new leader", func() error {
		if p := processesRunning(t, mark); len(p) != 0 {
			return fmt.Errorf("still running: %v", p)
		}
		return nil
	})
}

// metric reads one unlabelled series from a replica's /metrics.
func metric(t *testing.T, s *server, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no series %s on %s", name, s.api)
	return 0
}

// TestHAPausedLeader: SIGSTOP the leader past its lease; another takes
// over; SIGCONT it: it stops leading, none of its writes passes the
// epoch check any more, and no instance is started twice.
func TestHAPausedLeader(t *testing.T) {
	c := startCluster(t, 2)
	old, epoch := c.leader(nil, failoverBound)
	f := c.follower(old)
	mark := fmt.Sprintf("%d.%d", 8000+os.Getpid()%1000, time.Now().UnixNano()%1000)
	f.mustBerth("apply", "-f", sleeperApp(t, "hb", mark, 2), "--timeout", "2m")
	// Settled: the leader's reconciler writes nothing more.
	var passed float64
	eventually(t, 30*time.Second, "the leader settles", func() error {
		p1 := metric(t, old, "berth_leader_fenced_writes_passed_total")
		time.Sleep(2 * time.Second)
		if passed = metric(t, old, "berth_leader_fenced_writes_passed_total"); passed != p1 {
			return fmt.Errorf("still writing: %v then %v", p1, passed)
		}
		return nil
	})
	if err := old.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	next, nextEpoch := c.leader(old, failoverBound)
	t.Logf("replica %s leads at epoch %d while the old leader (epoch %d) is paused", next.api, nextEpoch, epoch)
	// Work for the old leader to wake up to: the delete's notification
	// waits in its connection's socket while it sleeps.
	f.mustBerth("delete", "hb")
	if err := old.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the resumed old leader steps down", func() error {
		if v := metric(t, old, "berth_leader"); v != 0 {
			return fmt.Errorf("berth_leader = %v", v)
		}
		return nil
	})
	rejected := metric(t, old, "berth_leader_fenced_writes_total")
	if got := metric(t, old, "berth_leader_fenced_writes_passed_total"); got != passed {
		t.Fatalf("after it was paused, %v writes of the old leader passed the epoch check", got-passed)
	}
	t.Logf("the resumed old leader attempted %v writes after the takeover; all were rejected by the epoch", rejected)
	// The new leader gets the local runtime once the old one let go, and
	// finishes the delete; nothing ran twice meanwhile.
	eventually(t, 60*time.Second, "the new leader deletes the app", func() error {
		p := processesRunning(t, mark)
		if len(p) > 2 {
			t.Fatalf("%d instance processes run, want at most 2: %v", len(p), p)
		}
		if len(p) != 0 {
			return fmt.Errorf("still running: %v", p)
		}
		return nil
	})
}

// TestHAWatchAcrossReplicas: a watch follower connected to replica 2
// sees the changes made through replica 1, in order and without gaps,
// across a restart (kill -9) of replica 1.
func TestHAWatchAcrossReplicas(t *testing.T) {
	c := startCluster(t, 2)
	r1, r2 := c.replicas[0], c.replicas[1]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var seen []int64
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r2.api+"/api/v1/watch?since=0", nil)
	req.Header.Set("Authorization", "Bearer "+r2.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("watch: %s", resp.Status)
	}
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				rev, _ := strconv.ParseInt(v, 10, 64)
				mu.Lock()
				seen = append(seen, rev)
				mu.Unlock()
			}
		}
	}()

	mark := fmt.Sprintf("%d.%d", 9000+os.Getpid()%1000, time.Now().UnixNano()%1000)
	r1.mustBerth("apply", "-f", sleeperApp(t, "hw", mark, 1), "--timeout", "2m")
	r1.kill()
	r1 = c.start(r1.api)
	c.replicas[0] = r1
	r1.mustBerth("apply", "-f", sleeperApp(t, "hw", mark, 2), "--timeout", "2m")
	r1.mustBerth("delete", "hw", "--wait")

	// Every event the store holds, as a fresh reader sees them.
	conn, err := pgx.Connect(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT revision FROM events ORDER BY revision`)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the follower on replica 2 sees every change", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) < len(want) {
			return fmt.Errorf("saw %d of %d events", len(seen), len(want))
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen[:len(want)]) != fmt.Sprint(want) {
		t.Fatalf("follower saw revisions %v, the store holds %v", seen, want)
	}
	t.Logf("the follower on replica 2 saw all %d events, in order, across the restart of replica 1", len(want))
}

// stepProcesses lists the live processes of pipeline run's steps (their
// environment names the run and a workspace).
func stepProcesses(run string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(env, []byte("BERTH_RUN="+run+"\x00")) && bytes.Contains(env, []byte("BERTH_WORKSPACE=")) {
			var pid int
			_, _ = fmt.Sscan(e.Name(), &pid)
			if pidAlive(pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// TestHAPipelineFailover: a pipeline step runs on the leader when it is
// killed; the new leader settles the run as failed without starting the
// step again, and a cancel asked of a follower reaches the step the new
// leader runs.
func TestHAPipelineFailover(t *testing.T) {
	work := sleeperRepo(t, "hapipe", "on: [manual]\nsteps:\n  - name: slow\n    run: echo started; sleep 300\n")

	c := startCluster(t, 3)
	old, _ := c.leader(nil, failoverBound)
	f := c.follower(old)
	f.mustBerth("apply", "-f", filepath.Join(work, "berth.yaml"), "--wait=false")
	f.mustBerth("pipeline", "run", "hapipe")
	started := func(run string) int {
		return strings.Count(f.mustBerth("run", "logs", run), "[slow] started")
	}
	eventually(t, time.Minute, "the step runs on the leader", func() error {
		if n := started("hapipe.1"); n != 1 {
			return fmt.Errorf("started %d times", n)
		}
		return nil
	})
	if len(stepProcesses("hapipe.1")) == 0 {
		t.Fatal("no step process found before the failover")
	}

	old.kill()
	next, _ := c.leader(old, failoverBound)
	f = c.follower(next)
	var run api.Run
	eventually(t, 30*time.Second, "the new leader settles the interrupted run", func() error {
		if err := json.Unmarshal([]byte(f.mustBerth("run", "show", "hapipe.1", "-o", "json")), &run); err != nil {
			return err
		}
		if run.State != api.RunFailed {
			return fmt.Errorf("state %s", run.State)
		}
		return nil
	})
	eventually(t, 10*time.Second, "the interrupted step's processes are gone", func() error {
		if left := stepProcesses("hapipe.1"); len(left) > 0 {
			return fmt.Errorf("still running: %v", left)
		}
		return nil
	})
	if n := started("hapipe.1"); n != 1 {
		t.Fatalf("the step of hapipe.1 started %d times", n)
	}

	// A re-run asked of a follower runs on the new leader; a cancel asked
	// of a follower reaches it through the store and a notification.
	f.mustBerth("run", "rerun", "hapipe.1")
	eventually(t, time.Minute, "the re-run's step runs", func() error {
		if n := started("hapipe.2"); n != 1 {
			return fmt.Errorf("started %d times", n)
		}
		return nil
	})
	f.mustBerth("run", "cancel", "hapipe.2")
	eventually(t, 30*time.Second, "the re-run is cancelled and its step stopped", func() error {
		var r2 api.Run
		if err := json.Unmarshal([]byte(f.mustBerth("run", "show", "hapipe.2", "-o", "json")), &r2); err != nil {
			return err
		}
		if r2.State != api.RunCancelled {
			return fmt.Errorf("hapipe.2 = %s", r2.State)
		}
		if left := stepProcesses("hapipe.2"); len(left) > 0 {
			return fmt.Errorf("step still running: %v", left)
		}
		return nil
	})
}
