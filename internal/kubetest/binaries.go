package kubetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Versions of the parts hack/kubeenv builds. KubeVersion must match
// k8s.io/kubernetes in hack/kubeenv/go.mod (a test checks it): it names the
// cache directory and tells kwokctl which flags the components take.
const (
	KubeVersion = "v1.36.3"
	KwokVersion = "v0.8.0"
)

// Names of the binaries in the cache.
const (
	binEtcd                  = "etcd"
	binKubeApiserver         = "kube-apiserver"
	binKubeControllerManager = "kube-controller-manager"
	binKubeScheduler         = "kube-scheduler"
	binKubectl               = "kubectl"
	binKwok                  = "kwok"
	binKwokctl               = "kwokctl"
)

// allBinaries lists every binary a cluster needs, in build order.
var allBinaries = []string{
	binEtcd, binKubeApiserver, binKubeControllerManager, binKubeScheduler,
	binKubectl, binKwok, binKwokctl,
}

// CacheDir is where `make kube-testenv` puts the binaries:
// $BERTH_KUBE_CACHE, else ~/.cache/berth/kube-<KubeVersion>.
func CacheDir() (string, error) {
	if dir := os.Getenv("BERTH_KUBE_CACHE"); dir != "" {
		return filepath.Abs(dir)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("kubetest: locate the binary cache: %w", err)
	}
	return filepath.Join(home, ".cache", "berth", "kube-"+KubeVersion), nil
}

// Binaries is a complete set of control-plane binaries in one directory.
type Binaries struct {
	Dir string
}

// Path is the absolute path of the named binary ("kube-apiserver", ...).
func (b Binaries) Path(name string) string { return filepath.Join(b.Dir, name) }

// FindBinaries returns the cached binaries, or an error wrapping
// ErrBinariesMissing that names each binary missing or built for another
// version (build.sh writes a stamp per binary once it is in place).
func FindBinaries() (Binaries, error) {
	dir, err := CacheDir()
	if err != nil {
		return Binaries{}, err
	}
	var missing []string
	for _, name := range allBinaries {
		if !built(dir, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Binaries{}, fmt.Errorf("%w: %s not built in %s", ErrBinariesMissing, strings.Join(missing, ", "), dir)
	}
	return Binaries{Dir: dir}, nil
}

// built reports whether name is in dir with a stamp naming the expected
// version, so a cache left by another version is not taken for this one.
func built(dir, name string) bool {
	info, err := os.Stat(filepath.Join(dir, name))
	if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		return false
	}
	stamp, err := os.ReadFile(filepath.Join(dir, "stamps", name))
	if err != nil {
		return false
	}
	want := KubeVersion
	switch name {
	case binKwok, binKwokctl:
		want = KwokVersion
	case binEtcd:
		// etcd's version is fixed by hack/kubeenv/go.mod alone.
		return strings.HasPrefix(string(stamp), "go.etcd.io/etcd/server/v3 ")
	}
	return strings.HasSuffix(strings.TrimSpace(string(stamp)), " "+want)
}
