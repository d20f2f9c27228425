package kubetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// waitReady waits until the API server is ready, exactly nodes nodes are
// Ready, and the default namespace has its default service account: without
// it the API refuses pods, so a test that creates one at once would fail
// now and then.
func (c *Cluster) waitReady(ctx context.Context, nodes int) error {
	var last string
	check := func() bool {
		if _, err := c.Kubectl(ctx, "get", "--raw", "/readyz"); err != nil {
			last = "API server not ready: " + err.Error()
			return false
		}
		out, err := c.Kubectl(ctx, "get", "nodes", "-o",
			`jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err != nil {
			last = "list nodes: " + err.Error()
			return false
		}
		ready, total := countReady(string(out))
		if total != nodes || ready != nodes {
			last = fmt.Sprintf("%d of %d nodes Ready, want %d", ready, total, nodes)
			return false
		}
		if _, err := c.Kubectl(ctx, "get", "serviceaccount", "default", "-n", "default", "-o", "name"); err != nil {
			last = "no default service account yet: " + err.Error()
			return false
		}
		return true
	}
	for !check() {
		if c.Node != nil {
			if gone := c.Node.exited(); gone != "" {
				return fmt.Errorf("%w: the real node's %s%s", ErrNotReady, gone, c.Node.logTail())
			}
		}
		if f := c.portTakenIn(); f != "" {
			return fmt.Errorf("%w: %s says the address is already in use", ErrPortTaken, f)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w: %s", ErrNotReady, ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
	return nil
}

// countReady counts the lines "name=True" among "name=<status>" lines.
func countReady(out string) (ready, total int) {
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		total++
		if strings.HasSuffix(line, "=True") {
			ready++
		}
	}
	return ready, total
}

// portTakenIn names the component log that reports a failed bind, or "".
func (c *Cluster) portTakenIn() string {
	files, _ := filepath.Glob(filepath.Join(c.Workdir, "clusters", c.Name, "logs", "*.log"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte("bind: address already in use")) {
			return filepath.Base(f)
		}
	}
	return ""
}
