package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

const tailLines = 20

// passEnv are the server's variables a build sees: enough to find tools and
// to share Go's build and module caches between builds; nothing else leaks
// in (tokens, the server's own settings).
var passEnv = []string{
	"PATH", "HOME", "USER", "LANG", "TMPDIR", "XDG_CACHE_HOME",
	"GOCACHE", "GOPATH", "GOMODCACHE", "GOFLAGS", "GOPROXY", "GOSUMDB",
	"GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOTOOLCHAIN",
}

func buildEnv(extra map[string]string) []string {
	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin"}
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	for k, v := range extra {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// run runs req.Command with sh in dir, its output going to logPath.
func (b *Builder) run(ctx context.Context, req Request, dir, logPath string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer logf.Close()

	cmd := exec.CommandContext(ctx, "sh", "-c", req.Command)
	cmd.Dir = dir
	cmd.Env = buildEnv(req.Env)
	// A file, not a pipe: no copying goroutine for Wait to wait on, so a
	// background process left holding the output cannot hang the build.
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.WaitDelay = 5 * time.Second
	setProcessGroup(cmd)

	err = cmd.Run()
	// Whatever the command left running in its group goes with it.
	killGroup(cmd)
	if ctx.Err() != nil {
		return fmt.Errorf("build: %w", ctx.Err())
	}
	if err == nil {
		return nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return &BuildError{ExitCode: exitErr.ExitCode(), LogTail: logTail(logPath, tailLines)}
	}
	return fmt.Errorf("build: run %q: %w", req.Command, err)
}

// logTail returns the last n lines of the file at p (reading at most its
// last 64 KiB).
func logTail(p string, n int) []string {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	const max = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		if _, err := f.Seek(fi.Size()-max, io.SeekStart); err != nil {
			return nil
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil
	}
	data = bytes.TrimRight(data, "\n")
	if len(data) == 0 {
		return nil
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
