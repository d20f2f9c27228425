package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/kubetest"
)

// `berth logs` of an app on a cluster prints what its pod logged (kwok
// serves a file as the pod's log), and `-f` follows a line appended later.
func TestLogsOfClusterApp(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "pods.log")
	if err := kubetest.AppendLog(logFile, "hello from the cluster"); err != nil {
		t.Fatal(err)
	}
	kc := kubetest.Start(t, kubetest.Options{Nodes: 1, PodLogs: logFile})
	s := startServer(t, t.TempDir(), freeAddr(t), freeAddr(t))
	t.Cleanup(s.stop)
	s.mustBerth("cluster", "add", "kwok", "--kubeconfig", kc.Kubeconfig)
	s.mustBerth("env", "create", "staging", "--cluster", "kwok", "--namespace", "shop-logs")
	dir := t.TempDir()
	spec := "name: shop\nservices:\n  web:\n    image: registry.berth.test/shop-web:1\n"
	if err := os.WriteFile(filepath.Join(dir, "berth.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	s.mustBerth("apply", "-f", dir, "--env", "staging")

	if out := s.mustBerth("logs", "shop/web"); !strings.Contains(out, "hello from the cluster") {
		t.Fatalf("berth logs: %q", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, "logs", "shop/web", "-f", "--tail", "1")
	cmd.Env = append(os.Environ(), "BERTH_URL=http://"+s.api, "BERTH_TOKEN="+s.token,
		"XDG_CONFIG_HOME="+filepath.Join(s.dataDir, "cli-config"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	err = kubetest.FollowUntil(out, "appended while following", func() error {
		return kubetest.AppendLog(logFile, "appended while following")
	}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
}
