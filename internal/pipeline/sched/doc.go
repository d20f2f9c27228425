// Package sched decides, for one run of a pipeline, which steps start now,
// which are skipped and which wait. It is pure logic: no processes, clocks
// or goroutines. The caller starts what Next returns, reports each end with
// Finish, and calls Next again, until Done.
//
// The rules:
//   - A step whose `when` does not match the run's trigger is skipped at
//     once, with the reason.
//   - A step starts when every step it needs has succeeded. If one of them
//     failed, was skipped or cancelled, the step is skipped too ("needs
//     build, which failed"): a deploy must not run without its build.
//   - Steps start in the order they are written, at most Parallelism at a
//     time; approval steps only wait for people and do not count.
//   - A failed step with retries left goes back to pending and starts again.
//   - With FailFast, the first failure skips every step not yet started.
//   - A notify step starts when its needs have ended, whatever their result
//     (with no needs: when every other step has ended), and is skipped when
//     the run's outcome so far is not in its `on` list.
//   - The run fails with the exit code of the first step that failed.
//   - Cancel cancels every pending step; running ones are the caller's to
//     stop and report.
package sched
