package kubetest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// podLogsConfig is the kwok configuration that serves file as the log of
// every container (a ClusterLogs with no selector), "" for no file. kwok
// reads the file when a log is asked for and, with follow, streams what
// is appended to it.
func podLogsConfig(file string) string {
	if file == "" {
		return ""
	}
	return fmt.Sprintf(`---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: berth-test-logs
spec:
  logs:
  - logsFile: %q
    follow: true
`, file)
}

// LogLine formats text as one line of a container log file in the
// container runtime's (CRI) format, which the pod log API turns back into
// text: "<RFC 3339 time> stdout F <text>\n".
func LogLine(text string) string {
	return time.Now().UTC().Format(time.RFC3339Nano) + " stdout F " + strings.TrimSuffix(text, "\n") + "\n"
}

// AppendLog appends lines to a container log file (see Options.PodLogs),
// each as LogLine formats it.
func AppendLog(file string, lines ...string) error {
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	for _, l := range lines {
		if _, err := f.WriteString(LogLine(l)); err != nil {
			f.Close()
			return fmt.Errorf("kubetest: %w", err)
		}
	}
	return f.Close()
}

// FollowUntil reads a followed log from r until a line contains want,
// calling poke every half second meanwhile (to append the line again: a
// follow that opened after the first append would not see it), for up to
// timeout. The caller closes r afterwards.
func FollowUntil(r io.Reader, want string, poke func() error, timeout time.Duration) error {
	lines, done := make(chan string), make(chan struct{})
	defer close(done)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return fmt.Errorf("the followed log ended before a line with %q", want)
			}
			if strings.Contains(l, want) {
				return nil
			}
		case <-tick.C:
			if err := poke(); err != nil {
				return err
			}
		case <-deadline:
			return fmt.Errorf("no line with %q in the followed log after %s", want, timeout)
		}
	}
}
