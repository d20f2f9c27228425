package main

import (
	"fmt"
	"sort"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// abRounds servers of each binary take turns on the same data, listRequests
// each, so a load that changes during the run weighs on both alike. Each
// waits abSettle after it answers before it is timed: a server just
// started reconciles all 10,000 apps once, which would otherwise be in the
// figures (the benchmark's own list runs after 15 s of write rounds).
const (
	abRounds = 2
	abSettle = 10 * time.Second
)

// listAgainst measures the first page of GET /api/v1/apps with the
// baseline binary and with berth, on the data the store benchmark left
// (its apps and the teams its write rounds made, which is what a platform
// admin's list has to filter by), and prints both medians and their ratio.
func listAgainst(baseline, berth, data, backend, pgURL string) error {
	var extra []string
	if backend == "postgres" {
		extra = []string{"--database", pgURL}
	}
	lat := map[string][]time.Duration{}
	teams := 0
	for range abRounds {
		for _, bin := range []string{baseline, berth} {
			srv, err := startServer(bin, data, extra...)
			if err != nil {
				return fmt.Errorf("%s: %w", bin, err)
			}
			time.Sleep(abSettle)
			if teams == 0 {
				if teams, err = countTeams(srv); err != nil {
					srv.stop()
					return err
				}
			}
			l, err := listLatencies(srv, listRequests, api.DefaultPageLimit)
			srv.stop()
			if err != nil {
				return fmt.Errorf("%s: %w", bin, err)
			}
			lat[bin] = append(lat[bin], l...)
		}
	}
	med := func(bin string) time.Duration {
		l := lat[bin]
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		return l[len(l)/2]
	}
	b, c := med(baseline), med(berth)
	fmt.Printf("%-8s  list apps (first page, %d teams, %d × %d requests each) p50: baseline %s %.2f ms, %s %.2f ms, ratio %.3f× (%.1f× faster)\n",
		backend, teams, abRounds, listRequests, baseline, ms(b), berth, ms(c), float64(c)/float64(b), float64(b)/float64(c))
	return nil
}

// countTeams is how many teams the platform admin sees.
func countTeams(srv *server) (int, error) {
	var teams []api.Team
	if err := srv.getJSON("/api/v1/teams", &teams); err != nil {
		return 0, err
	}
	return len(teams), nil
}
