package kubecluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
)

// ServiceAccountDir is where Kubernetes mounts a pod's service account:
// its token, the cluster's CA certificate (ca.crt) and the pod's
// namespace.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InClusterSource says where a server running in a pod finds its service
// account. The zero value is the pod's own: ServiceAccountDir and the API
// server's address from KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT, exactly what rest.InClusterConfig reads.
// Tests point it at a directory of their own and a real control plane.
type InClusterSource struct {
	// Dir holds token, ca.crt and (optionally) namespace; "" means
	// ServiceAccountDir.
	Dir string
	// LookupEnv reads KUBERNETES_SERVICE_HOST and _PORT; nil means
	// os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// ErrNotInCluster: no service account to use (the server does not run in
// a pod, or the pod mounts no token).
var ErrNotInCluster = errors.New("not running in a cluster")

// InCluster is the config of the pod's own service account.
func InCluster() (*rest.Config, error) { return InClusterSource{}.Config() }

// Config is the client config of the service account. The token is read
// from its file again whenever client-go refreshes it, as a projected
// token is rotated in place by the kubelet.
func (s InClusterSource) Config() (*rest.Config, error) {
	dir := s.Dir
	if dir == "" {
		dir = ServiceAccountDir
	}
	lookup := s.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	host, _ := lookup("KUBERNETES_SERVICE_HOST")
	port, _ := lookup("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, fmt.Errorf("in-cluster config: %w: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set (Kubernetes sets them in every pod)", ErrNotInCluster)
	}
	tokenFile, caFile := filepath.Join(dir, "token"), filepath.Join(dir, "ca.crt")
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("in-cluster config: %w: read the service account token: %w", ErrNotInCluster, err)
	}
	if strings.TrimSpace(string(token)) == "" {
		return nil, fmt.Errorf("in-cluster config: %w: the service account token %s is empty", ErrNotInCluster, tokenFile)
	}
	// Checked now, so a bad file is reported here and not as an
	// untrusted cluster on the first request.
	if _, err := certutil.NewPool(caFile); err != nil {
		return nil, fmt.Errorf("in-cluster config: the cluster's CA certificate: %w", err)
	}
	return &rest.Config{
		Host:            "https://" + net.JoinHostPort(host, port),
		TLSClientConfig: rest.TLSClientConfig{CAFile: caFile},
		BearerToken:     strings.TrimSpace(string(token)),
		BearerTokenFile: tokenFile,
		Timeout:         Timeout,
	}, nil
}

// Namespace is the namespace of the pod the server runs in (the file
// namespace beside the token), "" when it is not known.
func (s InClusterSource) Namespace() string {
	dir := s.Dir
	if dir == "" {
		dir = ServiceAccountDir
	}
	b, err := os.ReadFile(filepath.Join(dir, "namespace"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
