package kubetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options says what cluster a test wants.
type Options struct {
	// Nodes is how many simulated (kwok) nodes to add; 0 adds none.
	Nodes int
	// Name is part of the cluster's name, for logs; the test's name by
	// default. The cluster's name is always made unique.
	Name string
	// PodLogs is a file (absolute path) that the pod log API serves as
	// the log of every container of every pod, followed as it grows
	// (kwok's ClusterLogs); lines are in the container runtime's format,
	// see LogLine. "" leaves every log empty.
	PodLogs string
	// RealNode adds a real node (RealNode: a kubelet with containerd and
	// runc on this machine) besides the Nodes simulated ones. Start skips
	// the test when its binaries are not built (`make kube-realnode`),
	// runc is missing or the test is not root.
	RealNode bool
}

// Timeouts: generous because a test binary shares 2 cores with other
// packages' tests; the control plane itself is ready in a few seconds.
const (
	startTimeout = 3 * time.Minute
	stopTimeout  = time.Minute
	pollInterval = 200 * time.Millisecond
)

// Cluster is a running control plane with simulated nodes.
type Cluster struct {
	// Name is kwokctl's name for the cluster (without its "kwok-" prefix).
	Name string
	// Kubeconfig is the path of an admin kubeconfig for the cluster.
	Kubeconfig string
	// Server is the API server's URL, e.g. https://127.0.0.1:34567.
	Server string
	// Bin holds the binaries the cluster runs, kubectl among them.
	Bin Binaries
	// Workdir is kwokctl's work directory; components log to
	// Workdir/clusters/<Name>/logs.
	Workdir string
	// Node is the real node, with Options.RealNode; else nil.
	Node *RealNode

	// CreateTime is how long `kwokctl create cluster` took (with a retry,
	// if one was needed); StartTime is the whole start, nodes Ready.
	CreateTime, StartTime time.Duration

	t         testing.TB // set by Start, to report Stop's errors
	closeOnce sync.Once
	closeErr  error
}

// Start starts a cluster for t and stops it when t ends. Without the
// binaries it skips t, naming `make kube-testenv`; under CI (CI=true) it
// fails t instead, so that CI never passes without running the cluster.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	bin := RequireBinaries(t)
	if opts.RealNode {
		RequireRealNode(t)
	}
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	if opts.Name == "" {
		opts.Name = t.Name()
	}
	c, err := New(ctx, bin, opts)
	if err != nil {
		t.Fatal(err)
	}
	c.t = t
	t.Cleanup(c.Stop)
	if c.Node != nil {
		t.Logf("kubetest: real node %s (snapshotter %s), pods reach the host at %s", c.Node.Name, c.Node.Snapshotter, c.Node.HostIP)
	}
	t.Logf("kubetest: cluster %s with %d nodes ready in %s (control plane up in %s), API %s",
		c.Name, opts.Nodes, c.StartTime.Round(10*time.Millisecond), c.CreateTime.Round(10*time.Millisecond), c.Server)
	return c
}

// RequireBinaries returns the cached binaries. When they are missing it
// skips t with a message naming `make kube-testenv`, or fails t under CI.
func RequireBinaries(t testing.TB) Binaries {
	t.Helper()
	bin, err := FindBinaries()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI must build them with `make kube-testenv`", err)
		}
		t.Skipf("%v; run `make kube-testenv` to build them (takes minutes, once)", err)
	}
	return bin
}

// New starts a cluster outside of any test's control: the caller must
// Close it. Start is the usual way in tests; New serves code that starts
// several clusters at once, or benchmarks. On error nothing is left
// running.
func New(ctx context.Context, bin Binaries, opts Options) (*Cluster, error) {
	if opts.Nodes < 0 {
		return nil, fmt.Errorf("kubetest: Options.Nodes must be 0 or more, got %d", opts.Nodes)
	}
	sweepStale(bin.Dir)

	begin := time.Now()
	// A port chosen by freePorts can be taken by another process before the
	// component binds it. kwokctl notices that for some components (create
	// fails) but not for the kwok controller, whose nodes then never get
	// Ready (waitReady sees it in the log): either way, new ports and
	// another try.
	var errs []error
	for attempt := 1; attempt <= 3 && ctx.Err() == nil; attempt++ {
		c, err := start(ctx, bin, opts, begin)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("attempt %d: %w", attempt, err))
		if !errors.Is(err, errCreate) && !errors.Is(err, ErrPortTaken) {
			break
		}
	}
	return nil, fmt.Errorf("kubetest: start a cluster: %w", errors.Join(append(errs, ctx.Err())...))
}

// errCreate marks a failed `kwokctl create cluster`, which New retries.
var errCreate = errors.New("create failed")

// start is one attempt of New: create, add the nodes, wait until ready.
// On error it leaves nothing running.
func start(ctx context.Context, bin Binaries, opts Options, begin time.Time) (*Cluster, error) {
	c, err := create(ctx, bin, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCreate, err)
	}
	c.CreateTime = time.Since(begin)
	if opts.Nodes > 0 {
		if _, err := c.kwokctl(ctx, "scale", "node", "--replicas", strconv.Itoa(opts.Nodes)); err != nil {
			_ = c.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("kubetest: add %d nodes: %w", opts.Nodes, err)
		}
	}
	nodes := opts.Nodes
	if opts.RealNode {
		rbin, err := FindRealNodeBinaries()
		if err == nil {
			c.Node, err = startRealNode(ctx, c, rbin)
		}
		if err != nil {
			_ = c.Close(context.WithoutCancel(ctx))
			return nil, err
		}
		nodes++
	}
	if err := c.waitReady(ctx, nodes); err != nil {
		err = fmt.Errorf("kubetest: cluster %s: %w%s", c.Name, err, c.logTail())
		_ = c.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	c.StartTime = time.Since(begin)
	return c, nil
}

// create makes a work directory, writes the port configuration and runs
// `kwokctl create cluster`. On failure it leaves nothing running.
func create(ctx context.Context, bin Binaries, opts Options) (*Cluster, error) {
	name := opts.Name
	if err := os.MkdirAll(workRoot(), 0o755); err != nil {
		return nil, fmt.Errorf("create the work root: %w", err)
	}
	workdir, err := os.MkdirTemp(workRoot(), clusterName(name)+"-")
	if err != nil {
		return nil, fmt.Errorf("create a work directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(workdir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(workdir)
		return nil, fmt.Errorf("record the owner: %w", err)
	}
	p, err := freePorts()
	if err != nil {
		os.RemoveAll(workdir)
		return nil, err
	}
	// kwokctl reads <KWOK_WORKDIR>/kwok.yaml by default.
	if err := os.WriteFile(filepath.Join(workdir, "kwok.yaml"), []byte(p.kwokConfig()+realNodeKwokPatch(opts.RealNode)+podLogsConfig(opts.PodLogs)), 0o644); err != nil {
		os.RemoveAll(workdir)
		return nil, fmt.Errorf("write the kwokctl configuration: %w", err)
	}

	c := &Cluster{
		// The work directory's random suffix makes the name unique.
		Name:    filepath.Base(workdir),
		Bin:     bin,
		Workdir: workdir,
		Server:  fmt.Sprintf("https://127.0.0.1:%d", p.KubeApiserver),
	}
	c.Kubeconfig = filepath.Join(workdir, "clusters", c.Name, "kubeconfig.yaml")

	_, err = c.kwokctl(ctx, "create", "cluster",
		"--runtime", "binary",
		"--etcd-binary", bin.Path(binEtcd),
		"--kube-apiserver-binary", bin.Path(binKubeApiserver),
		"--kube-controller-manager-binary", bin.Path(binKubeControllerManager),
		"--kube-scheduler-binary", bin.Path(binKubeScheduler),
		"--kwok-controller-binary", bin.Path(binKwok),
		// Otherwise kwokctl adds a context to ~/.kube/config.
		"--kubeconfig", c.userKubeconfig(),
		"--quiet-pull",
	)
	if err != nil {
		err = fmt.Errorf("create cluster %s: %w%s", c.Name, err, c.logTail())
		_ = c.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return c, nil
}

// userKubeconfig is where kwokctl adds (and removes) a context for the
// cluster; kept in the work directory so the user's own is never touched.
func (c *Cluster) userKubeconfig() string { return filepath.Join(c.Workdir, "user-kubeconfig.yaml") }

// Close deletes the cluster, kills any of its processes still running and
// removes its work directory. Only the first call does anything.
func (c *Cluster) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, stopTimeout)
		defer cancel()
		// Read the PIDs first: `kwokctl delete` removes the PID files.
		pids := componentPIDs(c.Workdir)
		var nodeErr error
		if c.Node != nil {
			nodeErr = c.Node.Close(ctx)
		}
		_, delErr := c.kwokctl(ctx, "delete", "cluster", "--kubeconfig", c.userKubeconfig())
		// Whatever a failed (or successful) delete left running is ours to end.
		killOurs(pids, c.Bin.Dir)
		waitGone(ctx, pids)
		c.closeErr = errors.Join(nodeErr, delErr, os.RemoveAll(c.Workdir))
	})
	return c.closeErr
}

// Stop is Close for tests: Start registers it with t.Cleanup, and it
// reports a failure to that test. On a cluster from New it drops the error.
func (c *Cluster) Stop() {
	if err := c.Close(context.Background()); err != nil && c.t != nil {
		c.t.Errorf("kubetest: stop cluster %s: %v", c.Name, err)
	}
}

// Kubectl runs the cache's kubectl against the cluster and returns its
// standard output; the error carries standard error.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	return c.run(ctx, nil, c.Bin.Path(binKubectl), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
}

// Apply is `kubectl apply -f -` of manifest (YAML or JSON).
func (c *Cluster) Apply(ctx context.Context, manifest []byte) error {
	_, err := c.run(ctx, manifest, c.Bin.Path(binKubectl), "--kubeconfig", c.Kubeconfig, "apply", "-f", "-")
	return err
}

// kwokctl runs kwokctl on this cluster's work directory.
func (c *Cluster) kwokctl(ctx context.Context, args ...string) ([]byte, error) {
	return c.run(ctx, nil, c.Bin.Path(binKwokctl), append([]string{"--name", c.Name}, args...)...)
}

// run runs a command with the cluster's environment.
func (c *Cluster) run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = c.env()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// env is the environment of kwokctl and kubectl: the caller's, less any
// KWOK_* or KUBECONFIG setting that would point them elsewhere, plus the
// work directory and the cache's kubectl, which kwokctl would otherwise
// try to download.
func (c *Cluster) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KWOK_") || strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		if path, ok := strings.CutPrefix(kv, "PATH="); ok {
			kv = "PATH=" + c.Bin.Dir + string(os.PathListSeparator) + path
		}
		env = append(env, kv)
	}
	return append(env,
		"KWOK_WORKDIR="+c.Workdir,
		"KWOK_KUBECTL_BINARY="+c.Bin.Path(binKubectl),
	)
}

// logTail returns the last lines of each component's log, for errors.
func (c *Cluster) logTail() string {
	files, _ := filepath.Glob(filepath.Join(c.Workdir, "clusters", c.Name, "logs", "*.log"))
	var b strings.Builder
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil || len(raw) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) > 5 {
			lines = lines[len(lines)-5:]
		}
		fmt.Fprintf(&b, "\n--- %s (last lines)\n%s", filepath.Base(f), strings.Join(lines, "\n"))
	}
	return b.String()
}

var notNameChars = regexp.MustCompile(`[^a-z0-9]+`)

// clusterName turns a test name into a short DNS-label-like prefix.
func clusterName(s string) string {
	s = strings.Trim(notNameChars.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 30 {
		s = strings.TrimRight(s[:30], "-")
	}
	if s == "" {
		s = "cluster"
	}
	return s
}
