package main

import (
	"fmt"
	"os"
	"path/filepath"
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
	shims := shimRSS(berth)
	fmt.Printf("memory: server RSS idle %.1f MB, with %d apps running %.1f MB (ratio %.2fx, target < 60 MB); %d shims %.1f MB in all (%.1f MB each)\n",
		float64(idle)/1024, apps, float64(busy)/1024, float64(busy)/float64(idle), len(shims), float64(sum(shims))/1024, float64(sum(shims))/1024/float64(max(1, len(shims))))
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

// shimRSS finds the shim processes (the berth binary run as "shim").
func shimRSS(berth string) []int {
	abs, _ := filepath.Abs(berth)
	entries, _ := os.ReadDir("/proc")
	var out []int
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
		if exe != abs || !containsArg(cmdline, "shim") {
			continue
		}
		if kb, err := rssKiB(pid); err == nil {
			out = append(out, kb)
		}
	}
	return out
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
