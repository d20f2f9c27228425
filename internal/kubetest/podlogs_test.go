package kubetest

import (
	"regexp"
	"strings"
	"testing"
)

func TestLogLine(t *testing.T) {
	t.Parallel()
	got := LogLine("hello world\n")
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z stdout F hello world\n$`).MatchString(got) {
		t.Fatalf("LogLine = %q, want the CRI format", got)
	}
}

func TestPodLogsConfig(t *testing.T) {
	t.Parallel()
	if got := podLogsConfig(""); got != "" {
		t.Fatalf("no file: %q", got)
	}
	got := podLogsConfig("/tmp/x y/pods.log")
	for _, want := range []string{"---\n", "kind: ClusterLogs", `logsFile: "/tmp/x y/pods.log"`, "follow: true"} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
}
