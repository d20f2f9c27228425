package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/postgres"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

// The store benchmark: the same berth server on SQLite (the baseline) and
// on PostgreSQL, each with 10,000 apps, measured through the API:
//
//   - write throughput: concurrent POST /api/v1/teams (a transaction with
//     the team, its owner and the audit record; nothing for the reconciler
//     to do), for a few seconds, three rounds;
//   - GET /api/v1/apps latency, sequential requests: the first page
//     (api.DefaultPageLimit apps, the team filter and paging done in
//     SQL), as `berth apps` asks for it first. Before paging this read
//     all 10,000 apps; results from then are not comparable.
//
// With -baseline, the first page is also timed with an earlier binary on
// the same data (after the write rounds, so with the thousands of teams
// they made), servers of the two binaries taking turns: the ratio of the
// medians is the change's effect (listAgainst).
const (
	writeWorkers    = 8
	writeRound      = 5 * time.Second
	writeRounds     = 3
	listRequests    = 30
	envBenchPostgre = "BERTH_BENCH_POSTGRES_URL"
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
)

type storeResult struct {
	writesPerSec  float64
	listP50, list time.Duration
}

func storeBench(berth, baseline string, storeApps int) error {
	ctx := context.Background()
	admin := os.Getenv(envBenchPostgre)
	if admin == "" {
		admin = defaultPostgres
	}
	pgURL, drop, err := scratchDatabase(ctx, admin)
	if err != nil {
		return fmt.Errorf("PostgreSQL (set %s to a server's URL): %w", envBenchPostgre, err)
	}
	defer drop()

	fmt.Printf("%d apps; writes: %d workers × %s × %d rounds (median); list: %d sequential GET /api/v1/apps (first page of %d)\n",
		storeApps, writeWorkers, writeRound, writeRounds, listRequests, api.DefaultPageLimit)
	results := map[string]storeResult{}
	for _, backend := range []string{"sqlite", "postgres"} {
		data, err := os.MkdirTemp("", "berthbench-store-")
		if err != nil {
			return err
		}
		r, err := measureStore(ctx, berth, data, backend, pgURL, storeApps)
		if err == nil {
			fmt.Printf("%-8s  writes %7.0f/s   list apps p50 %7.1f ms  p99 %7.1f ms\n", backend, r.writesPerSec,
				ms(r.listP50), ms(r.list))
			if baseline != "" {
				err = listAgainst(baseline, berth, data, backend, pgURL)
			}
		}
		os.RemoveAll(data)
		if err != nil {
			return fmt.Errorf("%s: %w", backend, err)
		}
		results[backend] = r
	}
	s, p := results["sqlite"], results["postgres"]
	fmt.Printf("ratio postgres/sqlite: writes %.2f×, list apps p99 %.2f×\n", p.writesPerSec/s.writesPerSec, float64(p.list)/float64(s.list))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// scratchDatabase creates an empty database on the server at admin and
// returns its URL and how to drop it.
func scratchDatabase(ctx context.Context, admin string) (string, func(), error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "berthbench_" + hex.EncodeToString(b)
	exec := func(sql string) error {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close(ctx) }()
		_, err = c.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE DATABASE " + name); err != nil {
		return "", nil, err
	}
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		return "", nil, err
	}
	u := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	return u, func() { _ = exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") }, nil
}

func measureStore(ctx context.Context, berth, data, backend, pgURL string, storeApps int) (storeResult, error) {
	var extra []string
	if backend == "postgres" {
		extra = []string{"--database", pgURL}
	}
	srv, err := startServer(berth, data, extra...)
	if err != nil {
		return storeResult{}, err
	}
	defer srv.stop()
	if err := seedApps(ctx, data, backend, pgURL, storeApps); err != nil {
		return storeResult{}, fmt.Errorf("seed: %w", err)
	}
	var res storeResult
	var rounds []float64
	for i := range writeRounds {
		n, err := writeRoundOnce(srv, fmt.Sprintf("r%d", i))
		if err != nil {
			return storeResult{}, err
		}
		rounds = append(rounds, float64(n)/writeRound.Seconds())
	}
	sort.Float64s(rounds)
	res.writesPerSec = rounds[len(rounds)/2]

	lat, err := listLatencies(srv, listRequests, min(storeApps, api.DefaultPageLimit))
	if err != nil {
		return storeResult{}, err
	}
	res.listP50 = lat[len(lat)/2]
	res.list = lat[(len(lat)*99+99)/100-1]
	return res, nil
}

// seedApps writes the apps straight into the running server's store (in
// batches), owned by the default team: through the API each would also
// get a release, which the reconciler would build and start.
func seedApps(ctx context.Context, data, backend, pgURL string, storeApps int) error {
	var st store.Store
	switch backend {
	case "sqlite":
		db, err := sqlite.Open(ctx, data+"/berth.db")
		if err != nil {
			return err
		}
		defer func() { _ = db.Close() }()
		st = db
	default:
		db, err := postgres.Open(ctx, pgURL)
		if err != nil {
			return err
		}
		defer func() { _ = db.Close() }()
		st = db
	}
	team, err := st.GetTeamByName(ctx, "default")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for start := 0; start < storeApps; start += 1000 {
		err := st.InTx(ctx, func(tx store.Tx) error {
			for i := start; i < start+1000 && i < storeApps; i++ {
				a := store.App{Name: fmt.Sprintf("app-%05d", i), Team: team.ID, Ports: map[string]int{"web": 20000 + i}, CreatedAt: now, UpdatedAt: now}
				if err := tx.CreateApp(ctx, a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// writeRoundOnce runs writeWorkers clients creating teams for writeRound
// and counts the creations acknowledged.
func writeRoundOnce(srv *server, prefix string) (int64, error) {
	var done atomic.Int64
	var firstErr error
	var mu sync.Mutex
	deadline := time.Now().Add(writeRound)
	var wg sync.WaitGroup
	for w := range writeWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				body := fmt.Sprintf(`{"name":"t-%s-%d-%d"}`, prefix, w, i)
				req, _ := http.NewRequest(http.MethodPost, "http://"+srv.api+"/api/v1/teams", bytes.NewBufferString(body))
				req.Header.Set("Authorization", "Bearer "+srv.token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("POST /api/v1/teams: %s", resp.Status)
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return done.Load(), firstErr
}

// getApps reads the first page of apps, as the CLI's first request does,
// and returns how many apps it held.
func getApps(srv *server) (int, error) {
	var apps []json.RawMessage
	err := srv.getJSON("/api/v1/apps", &apps)
	return len(apps), err
}

// getJSON GETs path as the admin and decodes the answer into out.
func (s *server) getJSON(path string, out any) error {
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.api+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// listLatencies times n sequential first-page requests, after 3 that warm
// caches, sorted; every answer must hold want apps.
func listLatencies(srv *server, n, want int) ([]time.Duration, error) {
	var lat []time.Duration
	for i := range n + 3 {
		start := time.Now()
		got, err := getApps(srv)
		if err != nil {
			return nil, err
		}
		if got != want {
			return nil, fmt.Errorf("list apps answered %d apps, want a first page of %d", got, want)
		}
		if i >= 3 {
			lat = append(lat, time.Since(start))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, nil
}
