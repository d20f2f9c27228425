// Package storetest is the contract every store.Store backend must pass.
// A backend's test calls Run with a function that opens a fresh, empty
// store; the suite closes each store when its subtest ends.
package storetest

import (
	"errors"
	"testing"

	"github.com/berthdev/berth/internal/store"
)

// test is one contract case, run on its own empty store.
type test struct {
	desc string
	run  func(t *testing.T, s store.Store)
}

// Run runs the contract suite. open must return a new, empty store each
// time it is called (subtests run in parallel).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	var tests []test
	tests = append(tests, appTests...)
	tests = append(tests, canaryTests...)
	tests = append(tests, releaseTests...)
	tests = append(tests, eventTests...)
	tests = append(tests, tokenTests...)
	tests = append(tests, configSecretTests...)
	tests = append(tests, runTests...)
	tests = append(tests, identityTests...)
	tests = append(tests, auditTests...)
	tests = append(tests, clusterTests...)
	tests = append(tests, environmentTests...)
	tests = append(tests, txTests...)
	tests = append(tests, concurrencyTests...)
	tests = append(tests, ssoPendingTests...)
	tests = append(tests, loginThrottleTests...)
	tests = append(tests, appPageTests...)
	tests = append(tests, listByTeamTests...)
	tests = append(tests, pipelineCacheTests...)
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.run(t, s)
		})
	}
}

// must stops the test on an unexpected error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr checks err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", what, err, target)
	}
}
