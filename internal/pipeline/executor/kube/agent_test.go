package kube

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/pipeline/executor"
)

// The wrapper a step pod runs, run here by a real /bin/sh with a stand-in
// agent that appends its arguments to a file and exits as told per
// command: the script's exit code stays the step's and nothing runs after
// a failure; a restore that hit (0) skips the save, a miss (10) or a
// failed restore saves; a failed save leaves the step's code alone; the agent gets URLs, cache paths and patterns
// intact (spaces, globs, quotes), each list to its own command.
func TestAgentWrapper(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc        string
		script      string
		spec        executor.StepSpec
		restoreExit int
		saveExit    int
		wantCode    int
		want        string // the agent's calls, one line each
	}{
		{desc: "artifacts only, script failed", script: "echo hi; exit 3",
			spec:     executor.StepSpec{Artifacts: []string{"bin/"}},
			wantCode: 3, want: ""},
		{desc: "artifacts only", script: `test "$0" = /bin/sh`,
			spec:     executor.StepSpec{Artifacts: []string{"bin/", "dist/**/*.tgz", "my files/it's"}},
			wantCode: 7, want: "[upload] [--url] [U] [--dir] [.] [--] [bin/] [dist/**/*.tgz] [my files/it's]\n"},
		{desc: "cache miss, then save, then artifacts", script: "true",
			spec:        executor.StepSpec{Cache: &executor.CacheSpec{URL: "C", Paths: []string{"vendor", "~/.cache/my dir"}}, Artifacts: []string{"bin/"}},
			restoreExit: 10, wantCode: 7,
			want: "[cache] [restore] [--url] [C] [--dir] [.]\n[cache] [save] [--url] [C] [--dir] [.] [--count] [2] [--] [vendor] [~/.cache/my dir] [bin/]\n[upload] [--url] [U] [--dir] [.] [--] [bin/]\n"},
		{desc: "cache hit: no save", script: "true",
			spec:     executor.StepSpec{Cache: &executor.CacheSpec{URL: "C", Paths: []string{"vendor"}}},
			wantCode: 0, want: "[cache] [restore] [--url] [C] [--dir] [.]\n"},
		{desc: "failed restore saves like a miss", script: "true",
			spec:        executor.StepSpec{Cache: &executor.CacheSpec{URL: "C", Paths: []string{"vendor"}}},
			restoreExit: 1, wantCode: 0,
			want: "[cache] [restore] [--url] [C] [--dir] [.]\n[cache] [save] [--url] [C] [--dir] [.] [--count] [1] [--] [vendor]\n"},
		{desc: "a failed save does not fail the step", script: "true",
			spec:        executor.StepSpec{Cache: &executor.CacheSpec{URL: "C", Paths: []string{"vendor"}}},
			restoreExit: 10, saveExit: 1, wantCode: 0,
			want: "[cache] [restore] [--url] [C] [--dir] [.]\n[cache] [save] [--url] [C] [--dir] [.] [--count] [1] [--] [vendor]\n"},
		{desc: "cache miss, script failed: no save", script: "exit 4",
			spec:        executor.StepSpec{Cache: &executor.CacheSpec{URL: "C", Paths: []string{"vendor"}}},
			restoreExit: 10, wantCode: 4, want: "[cache] [restore] [--url] [C] [--dir] [.]\n"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			agent := filepath.Join(dir, "agent")
			calls := filepath.Join(dir, "calls")
			// Arguments after "step-agent", bracketed, one call a line;
			// restore and save exit as told, upload 7.
			sh := "#!/bin/sh\nshift\nline=''\nfor a in \"$@\"; do line=\"$line[$a] \"; done\necho \"${line% }\" >> " + calls + "\n" +
				"case \"$1 $2\" in \"cache restore\") exit " + strconv.Itoa(tc.restoreExit) + ";; \"cache save\") exit " + strconv.Itoa(tc.saveExit) + ";; esac\nexit 7\n"
			if err := os.WriteFile(agent, []byte(sh), 0o755); err != nil {
				t.Fatal(err)
			}
			s := tc.spec
			s.Script = tc.script
			s.Upload = &executor.Upload{URL: "U"}
			cmd := exec.Command("/bin/sh", append([]string{"-c", agentWrapper(agent), "berth-step"}, agentArgs(s)...)...)
			cmd.Dir = dir
			code := 0
			var ee *exec.ExitError
			if err := cmd.Run(); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			got, _ := os.ReadFile(calls)
			if string(got) != tc.want {
				t.Errorf("agent calls:\n%s\nwant:\n%s", got, tc.want)
			}
			if w := agentWrapper(agent); strings.Contains(w, "vendor") || strings.Contains(w, "dist/") {
				t.Error("paths or patterns leak into the shell text")
			}
		})
	}
}
