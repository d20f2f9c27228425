// Package runtimetest is the conformance suite every runtime.Runtime
// passes: the local runtime runs it against real processes, the Kubernetes
// runtime against a real control plane.
package runtimetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
)

// Kind is the behaviour of a test workload.
type Kind int

// Kinds of test workload.
const (
	// Healthy serves HTTP and answers HealthPath with 200.
	Healthy Kind = iota
	// CrashOnStart prints CrashLine and exits with CrashCode at once.
	CrashOnStart
	// Unhealthy runs, but answers HealthPath with 500.
	Unhealthy
)

var kindNames = map[Kind]string{Healthy: "healthy", CrashOnStart: "crash-on-start", Unhealthy: "unhealthy"}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// ParseKind reads Kind.String().
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if n == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown test app kind %q (want healthy, crash-on-start or unhealthy)", s)
}

// Harness adapts the suite to one runtime.
type Harness struct {
	// New returns a fresh, empty runtime, cleaned up when t ends.
	New func(t *testing.T) runtime.Runtime
	// Workload returns a workload that runs the test app of the given kind
	// with 1 replica, a unique ID derived from name, and (except for
	// CrashOnStart) an HTTP health check on HealthPath with short
	// intervals (about 100ms) and a failure threshold of 2 or less.
	Workload func(t *testing.T, name string, kind Kind) runtime.Workload
	// KillProcess kills an instance's process abruptly (SIGKILL). Nil
	// skips the case that needs it.
	KillProcess func(t *testing.T, inst runtime.Instance)
	// ProcessGone reports whether an instance's process has ended. Nil
	// skips the checks that need it.
	ProcessGone func(t *testing.T, inst runtime.Instance) bool
	// Simulated says instances are simulated (Kubernetes nodes run by
	// kwok): pods become Running and Ready, but no process runs the test
	// app, so it never crashes, never fails its health check and prints
	// nothing. The cases that observe the app itself (crash on start,
	// unhealthy, logs) are skipped, naming this capability.
	Simulated bool
	// Timeout bounds each wait for the runtime to converge; default 20s.
	Timeout time.Duration
}

// Run runs the conformance suite. The cases run in parallel, each with its
// own runtime from h.New.
func Run(t *testing.T, h Harness) {
	if h.Timeout <= 0 {
		h.Timeout = 20 * time.Second
	}
	cases := []struct {
		desc string
		fn   func(t *testing.T, h Harness)
	}{
		{"apply becomes ready", testApplyReady},
		{"apply twice is idempotent", testApplyIdempotent},
		{"scale up and down", testScale},
		{"unknown workload", testUnknown},
		{"delete", testDelete},
		{"crash on start", testCrashOnStart},
		{"unhealthy", testUnhealthy},
		{"logs", testLogs},
		{"watch", testWatch},
		{"killed process comes back", testKilledProcess},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			t.Parallel()
			c.fn(t, h)
		})
	}
}
