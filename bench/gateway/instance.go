package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// envPort is the PORT in a process's environment: the port Berth's local
// runtime gave the instance, and so where the other proxies reach it.
func envPort(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return 0, err
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("PORT=")); ok {
			port, err := strconv.Atoi(string(v))
			if err != nil || port < 1 || port > 65535 {
				return 0, fmt.Errorf("PORT in its environment: expected a port number, got %q", v)
			}
			return port, nil
		}
	}
	return 0, fmt.Errorf("no PORT in its environment")
}

// autogroup is the scheduler autogroup of a process ("/autogroup-12"), or
// "" where the kernel has none.
func autogroup(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/autogroup")
	if err != nil {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	return name
}

// logServed says which backend every target reaches and whether it shares
// the generator's and the proxies' scheduler autogroup: a request that
// crosses autogroups waits longer for the CPU, so a report should say so.
func logServed(h *harness, env string, backend int) {
	mine, theirs := autogroup("self"), autogroup(strconv.Itoa(backend))
	same := "the same as the harness's, the proxies' and the load generator's"
	if mine != theirs {
		same = fmt.Sprintf("not the harness's (%s): every request crosses scheduler groups", mine)
	}
	if mine == "" {
		same = "none (no autogroup scheduling)"
	}
	h.logf("%s: every target reaches the instance Berth started (pid %d); its autogroup: %s %s", env, backend, theirs, same)
	fmt.Fprintf(&h.report, "Backend (%s): every target, direct included, reaches the one instance Berth's local runtime started (pid %d). Its scheduler autogroup: %s %s.\n\n", env, backend, theirs, same)
}
