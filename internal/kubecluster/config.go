package kubecluster

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Timeout bounds each request Berth makes to a cluster, so an address
// that swallows packets is reported as unreachable instead of hanging.
const Timeout = 15 * time.Second

// Config reads a kubeconfig and picks a context ("" for its current
// context). Only the chosen context's cluster and user are used.
func Config(kubeconfig []byte, context string) (*rest.Config, error) {
	raw, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKubeconfig, err)
	}
	if context == "" {
		context = raw.CurrentContext
	}
	if context == "" {
		return nil, fmt.Errorf("%w: it has no current-context; pass --context (one of %s)", ErrBadKubeconfig, contexts(raw.Contexts))
	}
	if _, ok := raw.Contexts[context]; !ok {
		return nil, fmt.Errorf("%w: context %q not found; it has %s", ErrBadKubeconfig, context, contexts(raw.Contexts))
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, context, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("%w: context %q: %w", ErrBadKubeconfig, context, err)
	}
	cfg.Timeout = Timeout
	return cfg, nil
}

// Minimal returns the kubeconfig reduced to one context (its cluster and
// user, certificates inlined), with that context current, and the
// cluster's server URL: what Berth stores, so credentials of unrelated
// clusters in the user's file are never kept.
func Minimal(kubeconfig []byte, context string) ([]byte, string, error) {
	raw, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadKubeconfig, err)
	}
	if context == "" {
		context = raw.CurrentContext
	}
	ctx, ok := raw.Contexts[context]
	if !ok {
		return nil, "", fmt.Errorf("%w: context %q not found; it has %s", ErrBadKubeconfig, context, contexts(raw.Contexts))
	}
	cluster, ok := raw.Clusters[ctx.Cluster]
	if !ok {
		return nil, "", fmt.Errorf("%w: context %q names cluster %q, which the kubeconfig lacks", ErrBadKubeconfig, context, ctx.Cluster)
	}
	raw.CurrentContext = context
	if err := clientcmdapi.MinifyConfig(raw); err != nil {
		return nil, "", fmt.Errorf("%w: context %q: %w", ErrBadKubeconfig, context, err)
	}
	if err := clientcmdapi.FlattenConfig(raw); err != nil {
		return nil, "", fmt.Errorf("%w: context %q: %w", ErrBadKubeconfig, context, err)
	}
	out, err := clientcmd.Write(*raw)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadKubeconfig, err)
	}
	return out, cluster.Server, nil
}

func contexts[V any](m map[string]V) string {
	if len(m) == 0 {
		return "no contexts"
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return "contexts " + strings.Join(names, ", ")
}
