package kubetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Versions of the real node's parts that hack/kubeenv/realnode.sh builds
// (the kubelet is KubeVersion, from hack/kubeenv's module). A test checks
// that the script agrees.
const (
	ContainerdVersion = "v2.2.9"
	CNIPluginsVersion = "v1.9.1"
)

// Names of the real node's binaries in RealNodeBinaries.Dir.
const (
	binKubelet    = "kubelet"
	binContainerd = "containerd"
	binShim       = "containerd-shim-runc-v2"
	binCtr        = "ctr"
	// cniDir holds the CNI plugins, the directory containerd is given.
	cniDir = "cni"
)

// realNodeBinaries lists each binary with the stamp realnode.sh writes
// for it once it is in place.
var realNodeBinaries = map[string]string{
	binKubelet:             "k8s.io/kubernetes " + KubeVersion,
	binContainerd:          "github.com/containerd/containerd/v2 " + ContainerdVersion,
	binShim:                "github.com/containerd/containerd/v2 " + ContainerdVersion,
	binCtr:                 "github.com/containerd/containerd/v2 " + ContainerdVersion,
	cniDir + "/bridge":     "github.com/containernetworking/plugins " + CNIPluginsVersion,
	cniDir + "/host-local": "github.com/containernetworking/plugins " + CNIPluginsVersion,
	cniDir + "/loopback":   "github.com/containernetworking/plugins " + CNIPluginsVersion,
	cniDir + "/portmap":    "github.com/containernetworking/plugins " + CNIPluginsVersion,
}

// RealNodeBinaries are the kubelet, containerd (with its runc shim and
// ctr) and the CNI plugins, in one directory; runc is the host's.
type RealNodeBinaries struct {
	Dir string
	// Runc is the host's runc (Debian's package).
	Runc string
}

// Path is the absolute path of the named binary.
func (b RealNodeBinaries) Path(name string) string { return filepath.Join(b.Dir, name) }

// RealNodeCacheDir is where `make kube-realnode` puts the real node's
// binaries: realnode/ of the control plane's cache.
func RealNodeCacheDir() (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "realnode"), nil
}

// FindRealNodeBinaries returns the real node's binaries, or an error
// wrapping ErrRealNodeUnavailable that says what is missing: a binary not
// built, runc not installed, or not running as root (a kubelet mounts and
// a runtime makes namespaces and cgroups).
func FindRealNodeBinaries() (RealNodeBinaries, error) {
	dir, err := RealNodeCacheDir()
	if err != nil {
		return RealNodeBinaries{}, err
	}
	var missing []string
	for name, want := range realNodeBinaries {
		stamp, err := os.ReadFile(filepath.Join(dir, "stamps", filepath.Base(name)))
		info, serr := os.Stat(filepath.Join(dir, name))
		if err != nil || serr != nil || info.Mode()&0o111 == 0 || strings.TrimSpace(string(stamp)) != want {
			missing = append(missing, name)
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%s not built in %s (`make kube-realnode` builds them)", strings.Join(missing, ", "), dir))
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		problems = append(problems, "no runc on PATH (apt-get install runc)")
	}
	if os.Geteuid() != 0 {
		problems = append(problems, "not root (a kubelet and a container runtime need root)")
	}
	if len(problems) > 0 {
		return RealNodeBinaries{}, fmt.Errorf("%w: %s", ErrRealNodeUnavailable, strings.Join(problems, "; "))
	}
	return RealNodeBinaries{Dir: dir, Runc: runc}, nil
}

// RequireRealNode returns the real node's binaries, or skips t saying
// what is missing — or fails t under CI, where `make test` builds them
// (as RequireBinaries does for the control plane).
func RequireRealNode(t testing.TB) RealNodeBinaries {
	t.Helper()
	bin, err := FindRealNodeBinaries()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI must build them with `make kube-realnode` (as root)", err)
		}
		t.Skipf("%v; run `make kube-realnode` (as root) to build them", err)
	}
	return bin
}
