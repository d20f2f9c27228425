// Command berthbench measures Berth on one machine, each figure against a
// baseline measured in the same run, and prints medians and ratios:
//
//	berthbench coldstart -berth bin/berth   # server start to API answering vs. a bare Go HTTP server
//	berthbench apply -berth bin/berth       # apply-to-healthy of 10 services vs. starting them by hand
//	berthbench memory -berth bin/berth      # server RSS with 10 apps running vs. idle
//	berthbench store -berth bin/berth       # API writes/s and list-apps p99 with 10,000 apps: PostgreSQL vs. SQLite
//	berthbench store -berth bin/berth -baseline bin/berth-main  # ... and the first page of apps vs. an earlier binary, on the same data
//	berthbench failover -berth bin/berth    # kill -9 of the leader of 3 servers on PostgreSQL to the new leader acting, vs. a clean handover
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: berthbench coldstart|apply|memory|store|failover [-berth PATH] [-runs N]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	berth := fs.String("berth", "bin/berth", "the berth binary to measure")
	runs := fs.Int("runs", 15, "how many runs per side")
	apps := fs.Int("apps", 10_000, "store: how many apps the store holds")
	baseline := fs.String("baseline", "", "store: an earlier berth binary (same schema) whose list-apps latency is measured on the same data, alternating with -berth")
	pg := fs.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "failover: a PostgreSQL server's maintenance database (the user must create databases)")
	_ = fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "coldstart":
		err = coldStart(*berth, *runs)
	case "apply":
		err = applyToHealthy(*berth, *runs)
	case "memory":
		err = memory(*berth)
	case "store":
		err = storeBench(*berth, *baseline, *apps)
	case "failover":
		err = failover(*berth, *pg, *runs)
	default:
		err = fmt.Errorf("unknown benchmark %q (coldstart, apply, memory, store, failover)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "berthbench:", err)
		os.Exit(1)
	}
}
