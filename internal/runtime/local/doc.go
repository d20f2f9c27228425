// Package local is the runtime that runs workloads as processes on this
// machine, supervised so that they survive a restart of the server.
//
// # Why a shim
//
// Every instance is run by its own small supervisor process, the shim (the
// berth binary started as `berth shim --dir <instance dir>`), never by the
// server itself:
//
//   - Whatever holds an instance's stdout and stderr must outlive the server.
//     A pipe to the server would kill the instance with SIGPIPE, or block it
//     once the pipe fills, the moment the server dies or restarts. The shim
//     owns the pipe and writes the output into rotated files, so a dead
//     server never blocks an instance and logs are never lost.
//   - Restarting a crashed process, running its health check and recording
//     its exit must go on while the server is down or being upgraded.
//   - The shim is started in its own process group and is the parent of the
//     process, so it can wait for it and learn how it ended. A server that
//     starts again cannot wait for processes it did not start.
//
// # Identity
//
// PIDs are reused, so a PID alone never identifies a process across a
// restart of the server: state.json records each PID together with the
// process's start time (field 22 of /proc/<pid>/stat), and a process counts
// as the same only when both match. Whether a shim is alive is decided by an
// advisory lock (flock) the shim holds on <instance dir>/lock for its whole
// life: the kernel drops it when the shim dies, however it dies, and a
// second shim started for the same instance by mistake cannot take it and
// exits without touching anything.
//
// # Files
//
//	<Dir>/workloads/<workload-id>/workload.json        desired state (runtime.Workload)
//	<Dir>/workloads/<workload-id>/instances/<n>/
//	    instance.json   what to run; written once by the runtime
//	    state.json      what runs; written (atomically) only by the shim
//	    lock            held by the live shim
//	    shim.log        the shim's own log
//	    logs/output.log the process's output, rotated to output.log.1, .2...
//	<Dir>/trash/...    instances and workloads being stopped and removed
//
// Instances being stopped are first moved to trash/, so a new instance with
// the same index can start at once, and the folder is removed once their
// shim has exited. The shim works with paths relative to its instance
// folder, so the move does not disturb it.
//
// # Adoption
//
// New scans Dir. Instances whose shim is alive are adopted untouched: same
// PIDs, nothing started twice. Instances whose shim died (kill -9, a reboot)
// get a new shim from the runtime's periodic check, which first stops any
// process the dead shim left behind (its output pipe is gone with the shim).
package local
