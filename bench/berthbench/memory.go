package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// memory reports the server's RSS idle and with 10 apps running (one
// service each), measured on the same server, plus the shims' RSS: each
// instance has a supervisor process, and an honest figure counts them.
func memory(berth string) error {
	tmp, err := os.MkdirTemp("", "berthbench-mem")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	svc, err := buildTestSvc(tmp)
	if err != nil {
		return err
	}
	s, err := startServer(berth, filepath.Join(tmp, "data"))
	if err != nil {
		return err
	}
	defer s.stop()
	time.Sleep(2 * time.Second)
	idle, err := rssKiB(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	const apps = 10
	for i := 0; i < apps; i++ {
		dir := filepath.Join(tmp, fmt.Sprintf("app%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "berth.yaml"), []byte(appSpec(fmt.Sprintf("mem%d", i), svc, 1)), 0o644); err != nil {
			return err
		}
		if out, err := s.berth(berth, "apply", "-f", dir, "--timeout", "1m"); err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
	}
	time.Sleep(5 * time.Second) // let status settle and the GC run
	busy, err := rssKiB(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	rss, pss := shimMemory(berth, tmp)
	fmt.Printf("memory: server RSS idle %.1f MB, with %d apps running %.1f MB (ratio %.2fx, target < 60 MB); %d shims: RSS %.1f MB each, PSS %.1f MB each (%.1f MB in all; RSS counts the binary's pages they share)\n",
		float64(idle)/1024, apps, float64(busy)/1024, float64(busy)/float64(idle), len(rss),
		float64(sum(rss))/1024/float64(max(1, len(rss))), float64(sum(pss))/1024/float64(max(1, len(pss))), float64(sum(pss))/1024)
	for i := 0; i < apps; i++ {
		_, _ = s.berth(berth, "delete", fmt.Sprintf("mem%d", i), "--wait")
	}
	return nil
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

// shimMemory finds the shim processes (the berth binary run as "shim") of
// this benchmark's server and returns each one's RSS and PSS in KiB.
func shimMemory(berth, dataDir string) (rss, pss []int) {
	abs, _ := filepath.Abs(berth)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if exe != abs || !containsArg(cmdline, "shim") || !strings.Contains(string(cmdline), dataDir) {
			continue
		}
		r, err1 := rssKiB(pid)
		p, err2 := pssKiB(pid)
		if err1 == nil && err2 == nil {
			rss, pss = append(rss, r), append(pss, p)
		}
	}
	return rss, pss
}

// pssKiB reads a process's proportional set size: shared pages divided
// among the processes that map them.
func pssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Pss:") {
			var kb int
			_, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "Pss:")), "%d", &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no Pss for pid %d", pid)
}

func containsArg(cmdline []byte, arg string) bool {
	start := 0
	for i, c := range cmdline {
		if c == 0 {
			if string(cmdline[start:i]) == arg {
				return true
			}
			start = i + 1
		}
	}
	return false
}
