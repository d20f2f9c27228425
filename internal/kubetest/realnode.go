package kubetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RealNode is a kubelet with containerd and runc on this machine, joined
// to a Cluster: its pods run for real (kwok's only pretend to). Images
// cannot be pulled (no registry is reachable from tests): import them
// with ImportImage and name them with imagePullPolicy Never or
// IfNotPresent.
type RealNode struct {
	// Name is the node's name (RealNodeName).
	Name string
	// HostIP is the host's address on the pods' network (RealNodeHostIP).
	HostIP string
	// Dir holds the node's configuration, state and logs
	// (containerd.log, kubelet.log).
	Dir string
	// Snapshotter is containerd's: overlayfs, or native where the
	// machine refuses overlay mounts.
	Snapshotter string

	bin   RealNodeBinaries
	paths realNodePaths
	procs []*nodeProc // in start order; stopped in reverse
	lock  *os.File
}

// nodeProc is a process of the node that it owns: stopped by Close.
type nodeProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait returned
	log  *os.File
}

// realNodeStopGrace is how long containerd and the kubelet get to stop
// after SIGTERM. (Starting shares the cluster's startTimeout.)
const realNodeStopGrace = 10 * time.Second

// startRealNode starts containerd and a kubelet for c (waitReady then
// waits for the node to be Ready). On error it leaves nothing running.
func startRealNode(ctx context.Context, c *Cluster, bin RealNodeBinaries) (n *RealNode, err error) {
	lock, err := lockRealNode(ctx)
	if err != nil {
		return nil, err
	}
	n = &RealNode{Name: RealNodeName, HostIP: RealNodeHostIP, Dir: filepath.Join(c.Workdir, "rn"), bin: bin, lock: lock}
	n.paths = realNodePaths{dir: n.Dir}
	defer func() {
		if err != nil {
			err = fmt.Errorf("kubetest: real node: %w%s", err, n.logTail())
			_ = n.Close(context.WithoutCancel(ctx))
			n = nil
		}
	}()
	for _, d := range []string{n.Dir, n.paths.cniConfDir(), n.paths.cniDataDir(), n.paths.kubeletRoot(), n.paths.podLogs()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return n, err
		}
	}
	if err := makeBridge(ctx); err != nil {
		return n, err
	}
	if err := os.WriteFile(filepath.Join(n.paths.cniConfDir(), "10-berth.conflist"), []byte(cniConfig(n.paths)), 0o644); err != nil {
		return n, err
	}
	n.Snapshotter = "overlayfs"
	if !overlayWorks(n.Dir) {
		n.Snapshotter = "native"
	}
	if err := os.WriteFile(n.paths.containerdConf(), []byte(containerdConfig(n.paths, bin, n.Snapshotter)), 0o644); err != nil {
		return n, err
	}
	if err := n.start("containerd", bin.Path(binContainerd), "--config", n.paths.containerdConf()); err != nil {
		return n, err
	}
	if err := n.waitContainerd(ctx); err != nil {
		return n, err
	}
	pause, err := BusyboxImage(ctx, PauseImage)
	if err != nil {
		return n, err
	}
	// The sandbox only holds the pod's namespaces: sleep for ever.
	pause.Entrypoint = []string{"/bin/sleep", "2147483647"}
	if err := n.ImportImage(ctx, pause); err != nil {
		return n, err
	}
	ports, err := freeTCPPorts(2)
	if err != nil {
		return n, err
	}
	nodeIP, err := hostIP()
	if err != nil {
		return n, err
	}
	if err := os.WriteFile(n.paths.kubeletConf(), []byte(kubeletConfig(n.paths, nodeIP, ports[0], ports[1])), 0o644); err != nil {
		return n, err
	}
	if err := n.start("kubelet", bin.Path(binKubelet),
		"--config", n.paths.kubeletConf(),
		"--kubeconfig", c.Kubeconfig,
		"--root-dir", n.paths.kubeletRoot(),
		"--hostname-override", n.Name,
		"--node-ip", nodeIP,
		"--node-labels", RealNodeLabel+"=true",
		// Also in the configuration; named as flags so the log says so.
		"--fail-swap-on=false", "--cgroups-per-qos=false", "--enforce-node-allocatable=", "--cgroup-driver=cgroupfs",
		"--v=2",
	); err != nil {
		return n, err
	}
	return n, nil
}

// Writer is an image that can write itself as an OCI layout tar, as
// HostImage does (a tar already written goes to ImportTar).
type Writer interface {
	Write(ctx context.Context, w io.Writer) error
}

// ImportImage writes img and imports it into the node's containerd, in
// the namespace the kubelet's runtime uses, unpacked for its snapshotter.
func (n *RealNode) ImportImage(ctx context.Context, img Writer) error {
	f, err := os.CreateTemp(n.Dir, "image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = img.Write(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return n.ImportTar(ctx, f.Name())
}

// ImportTar imports an OCI layout (or docker save) tar, as `make image`
// writes Berth's.
func (n *RealNode) ImportTar(ctx context.Context, path string) error {
	_, err := n.ctr(ctx, "images", "import", "--snapshotter", n.Snapshotter, path)
	return err
}

// ctr runs ctr against the node's containerd, in the kubelet's namespace.
func (n *RealNode) ctr(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, n.bin.Path(binCtr), append([]string{"--address", n.paths.containerdSock(), "--namespace", "k8s.io"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// start runs a process of the node in a process group of its own, its
// output to <name>.log.
func (n *RealNode) start(name, path string, args ...string) error {
	log, err := os.OpenFile(n.paths.log(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = n.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &nodeProc{name: name, cmd: cmd, done: make(chan struct{}), log: log}
	// The node owns this goroutine: it ends when the process does, which
	// Close makes sure of.
	go func() {
		_ = cmd.Wait() // the exit is in the log; Close reports what matters
		close(p.done)
	}()
	n.procs = append(n.procs, p)
	// For sweepStale: a test binary killed before Close leaves these.
	return os.WriteFile(filepath.Join(n.Dir, name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

// waitContainerd waits until containerd answers on its socket.
func (n *RealNode) waitContainerd(ctx context.Context) error {
	var last error
	for {
		if _, last = n.ctr(ctx, "version"); last == nil {
			return nil
		}
		for _, p := range n.procs {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited: %v", p.name, p.cmd.ProcessState)
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd did not answer: %w (%w)", ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

// exited names a node process that has exited, or "".
func (n *RealNode) exited() string {
	for _, p := range n.procs {
		select {
		case <-p.done:
			return fmt.Sprintf("%s exited (%v)", p.name, p.cmd.ProcessState)
		default:
		}
	}
	return ""
}

// Close stops the kubelet, every container and containerd, unmounts what
// they mounted under Dir, removes the bridge and Dir. Pods of the node
// should be deleted before (the cluster is going away anyway).
func (n *RealNode) Close(ctx context.Context) error {
	var errs []error
	// The kubelet first, so it restarts nothing while containers go.
	for i := len(n.procs) - 1; i >= 0; i-- {
		p := n.procs[i]
		if p.name == "containerd" {
			errs = append(errs, n.removeContainers(ctx))
		}
		stopProc(p)
	}
	killShims(n.bin.Path(binShim), n.Dir)
	errs = append(errs, unmountUnder(n.Dir))
	errs = append(errs, removeBridge(context.WithoutCancel(ctx)))
	if n.Dir != "" {
		errs = append(errs, os.RemoveAll(n.Dir))
	}
	if n.lock != nil {
		_ = n.lock.Close() // releases the flock
	}
	return errors.Join(errs...)
}

// stopProc sends SIGTERM to a node process, SIGKILL after the grace
// period, and waits for it.
func stopProc(p *nodeProc) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(realNodeStopGrace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	_ = p.log.Close()
}

// removeContainers kills and deletes every task and container of the
// kubelet's namespace, so no container outlives the node.
func (n *RealNode) removeContainers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	out, err := n.ctr(ctx, "containers", "list", "--quiet")
	if err != nil {
		return err
	}
	var errs []error
	for id := range strings.FieldsSeq(string(out)) {
		// A container without a task (never started, or exited and
		// deleted) makes `tasks delete` fail: that is fine.
		_, _ = n.ctr(ctx, "tasks", "delete", "--force", id)
		if _, err := n.ctr(ctx, "containers", "delete", id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killShims kills the runc shims left running by the node whose
// containerd socket is under dir (a shim exits once its containers are
// deleted; one whose deletion failed would not). Shims of another node on
// the machine, named by their -address, are left alone.
func killShims(shim, dir string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	var pids []int
	for _, f := range procs {
		exe, err := os.Readlink(f)
		if err != nil || exe != shim {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(filepath.Dir(f), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(dir+"/")) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
			pids = append(pids, pid)
		}
	}
	killOurs(pids, filepath.Dir(shim))
}

// unmountUnder detaches every mount point under dir, deepest first:
// volumes the kubelet mounted, containers' root file systems, network
// namespaces.
func unmountUnder(dir string) error {
	if dir == "" {
		return nil
	}
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for line := range strings.Lines(string(raw)) {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		// The mount point is the fifth field, with spaces as \040.
		p := strings.ReplaceAll(f[4], `\040`, " ")
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// makeBridge makes the pods' bridge with the host's address on it before
// the first pod does, so test servers can listen on RealNodeHostIP at
// once. A bridge left by a killed test is reused.
func makeBridge(ctx context.Context) error {
	if err := ipCmd(ctx, "link", "add", realNodeBridge, "type", "bridge"); err != nil && !strings.Contains(err.Error(), "File exists") {
		return err
	}
	if err := ipCmd(ctx, "addr", "replace", RealNodeHostIP+"/24", "dev", realNodeBridge); err != nil {
		return err
	}
	return ipCmd(ctx, "link", "set", realNodeBridge, "up")
}

func removeBridge(ctx context.Context) error {
	if err := ipCmd(ctx, "link", "del", realNodeBridge); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
		return err
	}
	return nil
}

func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// overlayWorks tries an overlay mount under dir: some sandboxes refuse
// them, and containerd's overlayfs snapshotter would then fail every pod.
func overlayWorks(dir string) bool {
	base, err := os.MkdirTemp(dir, "overlay-probe-")
	if err != nil {
		return false
	}
	defer os.RemoveAll(base)
	for _, d := range []string{"l", "u", "w", "m"} {
		if os.Mkdir(filepath.Join(base, d), 0o755) != nil {
			return false
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(base, "l"), filepath.Join(base, "u"), filepath.Join(base, "w"))
	if syscall.Mount("overlay", filepath.Join(base, "m"), "overlay", 0, opts) != nil {
		return false
	}
	_ = syscall.Unmount(filepath.Join(base, "m"), syscall.MNT_DETACH)
	return true
}

// hostIP is the machine's first global IPv4 address outside the pods'
// network: the node's address, where the API server reaches the kubelet
// (a kubelet refuses a loopback node IP).
func hostIP() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	_, pods, _ := net.ParseCIDR(realNodeSubnet)
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.To4() == nil || !ipn.IP.IsGlobalUnicast() || pods.Contains(ipn.IP) {
			continue
		}
		return ipn.IP.String(), nil
	}
	return "", errors.New("no global IPv4 address for the node")
}

// lockRealNode takes the machine's real-node lock (the bridge and its
// subnet are fixed), waiting for another test's node to go.
func lockRealNode(ctx context.Context) (*os.File, error) {
	if err := os.MkdirAll(workRoot(), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(workRoot(), "realnode.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock the real node: %w", err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("another test's real node is still running: %w", ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// logTail is the end of the node's logs, for errors.
func (n *RealNode) logTail() string {
	var b strings.Builder
	for _, name := range []string{"containerd", "kubelet"} {
		raw, err := os.ReadFile(n.paths.log(name))
		if err != nil || len(raw) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "\n--- %s.log (last lines)\n%s", name, strings.Join(lines, "\n"))
	}
	return b.String()
}
