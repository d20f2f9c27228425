package kubecluster

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

// Info is what a cluster reports about itself.
type Info struct {
	Version    string `json:"version"`
	Nodes      int    `json:"nodes"`
	ReadyNodes int    `json:"ready_nodes"`
	// Allocatable is the sum over ready nodes, in Kubernetes quantities.
	AllocatableCPU    string `json:"allocatable_cpu"`
	AllocatableMemory string `json:"allocatable_memory"`
	AllocatablePods   int64  `json:"allocatable_pods"`
}

// Probe checks that the cluster answers and accepts the credentials.
func Probe(ctx context.Context, client discovery.ServerVersionInterface, name string) error {
	if _, err := client.ServerVersion(); err != nil {
		return Classify(name, err)
	}
	return ctx.Err()
}

// Inspect reads the cluster's version and its nodes' capacity. It uses
// only the discovery and core clients: the full clientset would add every
// API group's client to the server binary.
func Inspect(ctx context.Context, cfg *rest.Config, name string) (Info, error) {
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return Info{}, fmt.Errorf("cluster %s: %w: %w", name, ErrBadKubeconfig, err)
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return Info{}, fmt.Errorf("cluster %s: %w: %w", name, ErrBadKubeconfig, err)
	}
	v, err := disco.ServerVersion()
	if err != nil {
		return Info{}, Classify(name, err)
	}
	info := Info{Version: v.GitVersion}
	nodes, err := core.Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return Info{}, Classify(name, err)
	}
	cpu, mem := resource.Quantity{}, resource.Quantity{}
	for _, n := range nodes.Items {
		info.Nodes++
		if !nodeReady(n) {
			continue
		}
		info.ReadyNodes++
		cpu.Add(n.Status.Allocatable[corev1.ResourceCPU])
		mem.Add(n.Status.Allocatable[corev1.ResourceMemory])
		info.AllocatablePods += n.Status.Allocatable.Pods().Value()
	}
	info.AllocatableCPU, info.AllocatableMemory = cpu.String(), mem.String()
	return info, nil
}

func nodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Classify wraps an error from a request to the cluster with the sentinel
// that says what went wrong, naming the cluster.
func Classify(name string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("cluster %s: %w (401 Unauthorized): check the kubeconfig's user (token or client certificate) and add the cluster again", name, ErrUnauthorized)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("cluster %s: %w: %w", name, ErrForbidden, err)
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) {
		return fmt.Errorf("cluster %s: %w: %w", name, ErrUntrusted, err)
	}
	var (
		urlErr *url.Error
		netErr net.Error
		opErr  *net.OpError
	)
	if errors.As(err, &urlErr) || errors.As(err, &netErr) || errors.As(err, &opErr) {
		return fmt.Errorf("cluster %s: %w: %w", name, ErrUnreachable, err)
	}
	return fmt.Errorf("cluster %s: %w", name, err)
}
