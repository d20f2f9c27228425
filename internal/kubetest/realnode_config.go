package kubetest

import (
	"fmt"
	"path/filepath"
)

// The real node's pod network: a bridge on the host, an address per pod
// from host-local. The host's address on the bridge is the one pods reach
// the test's servers at. One real node runs on a machine at a time (a
// lock file guards the bridge), so these are fixed.
const (
	realNodeBridge = "berth-rn0"
	realNodeSubnet = "10.244.250.0/24"
	// RealNodeHostIP is the host's address on the real node's pod
	// network: a server of the test that pods must reach listens there
	// (or on 0.0.0.0) and is advertised with it.
	RealNodeHostIP = "10.244.250.1"
	// RealNodeName is the real node's name in the cluster.
	RealNodeName = "berth-realnode"
	// RealNodeLabel is set to "true" on the real node, for a nodeSelector.
	RealNodeLabel = "berth.dev/real-node"
	// PauseImage is the sandbox image the real node's containerd uses: a
	// busybox sleeping, built from the host's files (nothing is pulled).
	PauseImage = "berth.test/pause:1"
)

// realNodePaths are the real node's files and sockets, under dir. Unix
// socket paths are limited to 107 bytes, hence the short names.
type realNodePaths struct{ dir string }

func (p realNodePaths) containerdSock() string  { return filepath.Join(p.dir, "c.sock") }
func (p realNodePaths) containerdConf() string  { return filepath.Join(p.dir, "containerd.toml") }
func (p realNodePaths) containerdRoot() string  { return filepath.Join(p.dir, "croot") }
func (p realNodePaths) containerdState() string { return filepath.Join(p.dir, "cstate") }
func (p realNodePaths) cniConfDir() string      { return filepath.Join(p.dir, "net.d") }
func (p realNodePaths) cniDataDir() string      { return filepath.Join(p.dir, "ipam") }
func (p realNodePaths) kubeletRoot() string     { return filepath.Join(p.dir, "k") }
func (p realNodePaths) kubeletConf() string     { return filepath.Join(p.dir, "kubelet.yaml") }
func (p realNodePaths) podLogs() string         { return filepath.Join(p.dir, "podlogs") }
func (p realNodePaths) log(name string) string  { return filepath.Join(p.dir, name+".log") }

// containerdConfig is containerd 2's configuration (version 3): its own
// root, state and socket under the node's directory, the CRI plugin with
// runc (cgroupfs: the machine has no systemd) and the bridge network.
// snapshotter is "overlayfs", or "native" where overlay mounts are refused.
func containerdConfig(p realNodePaths, bin RealNodeBinaries, snapshotter string) string {
	return fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
# NRI would listen on /var/run/nri/nri.sock, shared by the whole machine.
disabled_plugins = ["io.containerd.nri.v1.nri"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q

[plugins."io.containerd.cri.v1.images"]
  snapshotter = %[6]q
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = %[7]q

[plugins."io.containerd.cri.v1.runtime"]
  enable_selinux = false
  # Sandboxes (this one among them) may refuse to lower oom_score_adj
  # below the process's own, even to root: runc then fails every pod
  # sandbox ("failed to update /proc/self/oom_score_adj: Permission
  # denied"). This keeps every container's score at or above containerd's.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state directory, so that removing
  # the node finds (and unmounts) every one of them.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      snapshotter = %[6]q
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = %[8]q
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = [%[9]q]
    conf_dir = %[10]q
    max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`, p.containerdRoot(), p.containerdState(), p.containerdSock(), p.containerdSock()+".ttrpc",
		filepath.Join(p.dir, "opt"), snapshotter, PauseImage, bin.Runc, bin.Path(cniDir), p.cniConfDir())
}

// cniConfig is the pod network: a bridge with the host as gateway, no
// masquerading (pods talk to the host only; that needs no iptables).
func cniConfig(p realNodePaths) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "berth-realnode",
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": %q,
      "ranges": [[{"subnet": %q, "gateway": %q}]],
      "routes": [{"dst": "0.0.0.0/0"}]
    }
  }]
}
`, realNodeBridge, p.cniDataDir(), realNodeSubnet, RealNodeHostIP)
}

// kubeletConfig is the kubelet's configuration for a sandbox: no QoS
// cgroups and no allocatable enforcement (the machine's cgroups are not
// the kubelet's to arrange), cgroup v1 allowed, logs and volumes under
// the node's directory, images never collected, eviction thresholds
// near zero (a shared test machine's disk is not the node's to guard).
// The kubelet's API (logs, exec) listens on nodeIP:port, for the API
// server; it allows anonymous requests: a test node only.
func kubeletConfig(p realNodePaths, nodeIP string, port, healthzPort int) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %q
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization:
  mode: AlwaysAllow
containerRuntimeEndpoint: unix://%s
imageServiceEndpoint: unix://%s
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
failCgroupV1: false
podLogsDir: %q
volumePluginDir: %q
staticPodPath: ""
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "0%%"
  nodefs.inodesFree: "0%%"
  imagefs.available: "0%%"
serializeImagePulls: false
`, nodeIP, port, healthzPort, p.containerdSock(), p.containerdSock(), p.podLogs(), filepath.Join(p.dir, "volume-plugins"))
}

// realNodeKwokPatch continues kwokConfig's componentsPatches when the
// cluster gets a real node. kwokctl's binary runtime starts kwok with
// --manage-all-nodes=true, and kwok would then patch the real node's
// status and its pods' (a pod it reports Succeeded that the kubelet still
// runs); the nodes `kwokctl scale node` makes carry the annotation
// kwok.x-k8s.io/node=fake, so kwok keeps those and leaves the real one.
// The API server reaches kubelets (pod logs) by their node's hostname
// first, which no DNS here resolves: the node's IP goes first.
func realNodeKwokPatch(realNode bool) string {
	if !realNode {
		return ""
	}
	return `- name: kwok-controller
  extraArgs:
  - key: manage-all-nodes
    value: "false"
    override: true
  - key: manage-nodes-with-annotation-selector
    value: kwok.x-k8s.io/node=fake
- name: kube-apiserver
  extraArgs:
  - key: kubelet-preferred-address-types
    value: InternalIP,Hostname
`
}
