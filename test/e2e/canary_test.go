package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// withCanary turns the shop's rolling strategy into a canary with steps,
// and changes the greeting, so the release differs.
func withCanary(greeting, steps string) func(string) string {
	return func(y string) string {
		y = strings.Replace(y, "Welcome to the shop", greeting, 1)
		return strings.Replace(y, "strategy:\n  type: rolling\n", "strategy:\n  type: canary\n  steps: "+steps+"\n", 1)
	}
}

// TestCanaryRelease rolls out a canary of the shop, measures the traffic
// split through the gateway, pins a track, moves the weight, promotes it,
// then aborts a second canary.
func TestCanaryRelease(t *testing.T) {
	// Every request through web counts a visit in the store, which writes
	// a file, one request at a time: on tmpfs the 10,000 requests below
	// take about a third less time than on a disk.
	if probe, err := os.MkdirTemp("/dev/shm", "berth-e2e-"); err == nil {
		_ = os.Remove(probe)
		t.Setenv("TMPDIR", "/dev/shm")
	}
	dataDir := t.TempDir() // first, so it is removed after cleanupApps ran
	var s *server
	cleanupApps(t, &s)
	s = startServer(t, dataDir, freeAddr(t), freeAddr(t))
	start := time.Now()
	s.mustBerth("apply", "-f", "examples/shop", "--timeout", "3m")
	t.Logf("release 1 deployed in %s", time.Since(start).Round(time.Millisecond))

	// Release 2 with a canary strategy stops at its first step, 10 %.
	v2 := copyShop(t, withCanary("Canary greetings", "[{weight: 10}]"))
	out := s.mustBerth("apply", "-f", v2, "--timeout", "3m")
	if !strings.Contains(out, "release 2 runs as a canary: release 2 at 10 % beside release 1") {
		t.Fatalf("apply of a canary release:\n%s", out)
	}
	a := s.app("shop")
	if c := a.Status.Canary; c == nil || c.Release != 2 || c.Stable != 1 || c.Weight != 10 || !c.Ready || c.Step != 1 || c.Steps != 1 {
		t.Fatalf("canary status %+v", a.Status.Canary)
	}
	if a.Status.Serving != 1 || a.Status.Phase != api.PhaseProgressing || !strings.HasPrefix(a.Status.Message, "canary release 2 at 10 %") {
		t.Fatalf("status: serving %d phase %s message %q", a.Status.Serving, a.Status.Phase, a.Status.Message)
	}
	if st := s.mustBerth("status", "shop"); !strings.Contains(st, "Canary:") || !strings.Contains(st, "release 2 at 10 % beside release 1, step 1 of 1") {
		t.Fatalf("berth status does not show the canary:\n%s", st)
	}
	stableOf := func(a api.App) (stable, canary int) {
		for _, svc := range a.Status.Services {
			if svc.Name != "web" {
				continue
			}
			for _, in := range svc.Instances {
				switch in.Release {
				case 1:
					stable++
				case 2:
					canary++
				}
			}
		}
		return stable, canary
	}
	if st, ca := stableOf(a); st != 2 || ca != 1 {
		t.Fatalf("web instances: %d stable, %d canary; want 2 and 1", st, ca)
	}

	g := newLoad(s.gateway, "shop.localhost", 16)
	defer g.close()
	// The gateway follows the store: wait for the canary track to answer.
	eventually(t, 10*time.Second, "the canary track serves", func() error {
		if got := g.run(20, map[string]string{"X-Berth-Track": "canary"}); got.by[2] != 20 {
			return fmt.Errorf("pinned to canary: %v", got)
		}
		return nil
	})

	splitStart := time.Now()
	got := g.run(10_000, nil)
	share := got.share(2)
	t.Logf("10,000 requests in %s: %v (canary %.2f %%)", time.Since(splitStart).Round(time.Millisecond), got, share)
	if got.errors > 0 || got.by[1]+got.by[2] != 10_000 || share < 8 || share > 12 {
		t.Fatalf("split at 10 %%: %v (canary %.2f %%)", got, share)
	}
	if got := g.run(200, map[string]string{"X-Berth-Track": "canary"}); got.by[2] != 200 {
		t.Fatalf("X-Berth-Track: canary: %v", got)
	}
	if got := g.run(200, map[string]string{"X-Berth-Track": "stable"}); got.by[1] != 200 {
		t.Fatalf("X-Berth-Track: stable: %v", got)
	}
	if got := g.run(100, map[string]string{"Cookie": "berth-track=canary"}); got.by[2] != 100 {
		t.Fatalf("berth-track=canary cookie: %v", got)
	}

	out = s.mustBerth("rollout", "shop", "--weight", "50")
	if !strings.Contains(out, "canary release 2 ready at 50 %") {
		t.Fatalf("rollout --weight 50:\n%s", out)
	}
	eventually(t, 10*time.Second, "the gateway splits at 50 %", func() error {
		if got := g.run(100, nil); got.by[2] < 40 || got.by[2] > 60 {
			return fmt.Errorf("100 requests: %v", got)
		}
		return nil
	})
	got = g.run(2_000, nil)
	share = got.share(2)
	t.Logf("2,000 requests at 50 %%: %v (canary %.2f %%)", got, share)
	if got.errors > 0 || share < 48 || share > 52 {
		t.Fatalf("split at 50 %%: %v (canary %.2f %%)", got, share)
	}

	before := s.app("shop")
	out = s.mustBerth("promote", "shop", "--timeout", "2m")
	if !strings.Contains(out, "release 2 deployed") {
		t.Fatalf("promote:\n%s", out)
	}
	eventually(t, 30*time.Second, "release 1's instances gone", func() error {
		a := s.app("shop")
		for _, svc := range a.Status.Services {
			for _, in := range svc.Instances {
				if in.Release != 2 {
					return fmt.Errorf("%s instance %s of release %d left", svc.Name, in.ID, in.Release)
				}
			}
			if svc.Ready != svc.Desired {
				return fmt.Errorf("%s %d/%d ready", svc.Name, svc.Ready, svc.Desired)
			}
		}
		if a.Status.Serving != 2 || a.Status.Canary != nil || a.Status.Phase != api.PhaseRunning {
			return fmt.Errorf("serving %d canary %+v phase %s", a.Status.Serving, a.Status.Canary, a.Status.Phase)
		}
		return nil
	})
	for _, svc := range before.Status.Services {
		for _, in := range svc.Instances {
			if in.Release == 1 && pidAlive(in.PID) {
				t.Fatalf("release 1's %s instance %s (pid %d) still runs after promote", svc.Name, in.ID, in.PID)
			}
		}
	}
	if got := g.run(1_000, nil); got.errors > 0 || got.by[2] != 1_000 {
		t.Fatalf("after promote: %v", got)
	}

	// A second canary, aborted: all traffic back to release 2, release 3's
	// processes gone, release 3 failed with reason Aborted.
	v3 := copyShop(t, withCanary("Third time", "[{weight: 10}, {weight: 50, pause: 1h}]"))
	out = s.mustBerth("apply", "-f", v3, "--timeout", "3m")
	if !strings.Contains(out, "release 3 runs as a canary: release 3 at 10 % beside release 2") {
		t.Fatalf("apply of the second canary:\n%s", out)
	}
	eventually(t, 10*time.Second, "the second canary serves", func() error {
		if got := g.run(20, map[string]string{"X-Berth-Track": "canary"}); got.by[3] != 20 {
			return fmt.Errorf("pinned to canary: %v", got)
		}
		return nil
	})
	canaryPIDs := map[string]int{}
	for _, svc := range s.app("shop").Status.Services {
		for _, in := range svc.Instances {
			if in.Release == 3 {
				canaryPIDs[in.ID] = in.PID
			}
		}
	}
	if len(canaryPIDs) != 3 { // one instance of each service
		t.Fatalf("canary instances %v, want one per service", canaryPIDs)
	}
	out = s.mustBerth("abort", "shop")
	if !strings.Contains(out, "canary release 3 aborted; release 2 takes all the traffic") || !strings.Contains(out, "canary release 3 stopped") {
		t.Fatalf("abort:\n%s", out)
	}
	if got := g.run(1_000, nil); got.errors > 0 || got.by[2] != 1_000 {
		t.Fatalf("after abort: %v", got)
	}
	for id, pid := range canaryPIDs {
		if pidAlive(pid) {
			t.Fatalf("canary instance %s (pid %d) still runs after abort", id, pid)
		}
	}
	rel := s.mustBerth("releases", "shop")
	if !regexp.MustCompile(`(?m)^3\s+failed\s+apply\s+.*Aborted: canary aborted at 10 %`).MatchString(rel) {
		t.Fatalf("releases after abort:\n%s", rel)
	}
	t.Logf("canary test took %s", time.Since(start).Round(time.Millisecond))
}

// load sends requests through the gateway on kept-alive connections.
type load struct {
	url, host string
	conc      int
	client    *http.Client
}

func newLoad(gateway, host string, conc int) *load {
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, IdleConnTimeout: 30 * time.Second}
	return &load{url: "http://" + gateway + "/", host: host, conc: conc,
		client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

func (l *load) close() { l.client.CloseIdleConnections() }

// tally counts answers by the web release that gave them.
type tally struct {
	by     map[int]int
	errors int
	first  string // the first error
}

func (t tally) String() string {
	s := fmt.Sprintf("release counts %v", t.by)
	if t.errors > 0 {
		s += fmt.Sprintf(", %d errors (first: %s)", t.errors, t.first)
	}
	return s
}

// share is release rel's percentage of the answers.
func (t tally) share(rel int) float64 {
	total := 0
	for _, n := range t.by {
		total += n
	}
	if total == 0 {
		return 0
	}
	return 100 * float64(t.by[rel]) / float64(total)
}

var releaseRE = regexp.MustCompile(`web release (\d+),`)

// run sends n GETs with header, conc at a time, and tallies the answers.
func (l *load) run(n int, header map[string]string) tally {
	var (
		mu   sync.Mutex
		out  = tally{by: map[int]int{}}
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range l.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				rel, err := l.get(header)
				mu.Lock()
				if err != nil {
					if out.errors == 0 {
						out.first = err.Error()
					}
					out.errors++
				} else {
					out.by[rel]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

func (l *load) get(header map[string]string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, l.url, nil)
	if err != nil {
		return 0, err
	}
	req.Host = l.host
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	m := releaseRE.FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("no release in %q", b)
	}
	return strconv.Atoi(string(m[1]))
}
