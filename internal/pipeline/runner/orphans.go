package runner

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// killOrphans kills the process groups of steps that a server which died
// (SIGKILL, power) left running for run id: processes whose environment
// names both the run and its workspace (so another server's run of the
// same ID is never touched). It reads /proc and does nothing where there
// is none; a process that cleared its environment escapes it. It returns
// how many groups it killed.
func killOrphans(id, workspace string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	run, ws := []byte("BERTH_RUN="+id), []byte("BERTH_WORKSPACE="+workspace)
	self := syscall.Getpgrp()
	groups := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		var hasRun, hasWS bool
		for _, kv := range bytes.Split(env, []byte{0}) {
			hasRun = hasRun || bytes.Equal(kv, run)
			hasWS = hasWS || bytes.Equal(kv, ws)
		}
		if !hasRun || !hasWS {
			continue
		}
		if pg, err := syscall.Getpgid(pid); err == nil && pg > 1 && pg != self {
			groups[pg] = true
		}
	}
	for pg := range groups {
		_ = syscall.Kill(-pg, syscall.SIGKILL)
	}
	return len(groups)
}
