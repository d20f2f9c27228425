package kubetest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// PodAccount is what a pod running as a service account finds: the files
// Kubernetes mounts under /var/run/secrets/kubernetes.io/serviceaccount
// (here in Dir) and the API server's address in its environment.
type PodAccount struct {
	// Dir holds token, ca.crt and namespace.
	Dir string
	// Env is KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
	Env map[string]string
}

// LookupEnv reads Env like os.LookupEnv.
func (a PodAccount) LookupEnv(k string) (string, bool) {
	v, ok := a.Env[k]
	return v, ok
}

// ServiceAccount creates the namespace ns and service account name in it,
// applies rbac (a manifest of Roles and bindings; "" for none, so the
// account may do nothing), asks the API for a token of the account
// (TokenRequest, as the kubelet does for a pod) and writes the account's
// files into a new directory under dir.
func (c *Cluster) ServiceAccount(ctx context.Context, ns, name, rbac, dir string) (PodAccount, error) {
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: %s, namespace: %s}
`, ns, name, ns)
	if rbac != "" {
		manifest += "---\n" + rbac
	}
	if err := c.Apply(ctx, []byte(manifest)); err != nil {
		return PodAccount{}, fmt.Errorf("kubetest: service account %s/%s: %w", ns, name, err)
	}
	token, err := c.Kubectl(ctx, "-n", ns, "create", "token", name, "--duration", "1h")
	if err != nil {
		return PodAccount{}, fmt.Errorf("kubetest: token of %s/%s: %w", ns, name, err)
	}
	caData, err := c.Kubectl(ctx, "config", "view", "--raw", "--minify", "--flatten",
		"-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}")
	if err != nil {
		return PodAccount{}, fmt.Errorf("kubetest: the cluster's CA: %w", err)
	}
	ca, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(caData)))
	if err != nil {
		return PodAccount{}, fmt.Errorf("kubetest: the cluster's CA in the kubeconfig: %w", err)
	}
	if len(ca) == 0 {
		return PodAccount{}, errors.New("kubetest: the kubeconfig has no CA certificate")
	}
	u, err := url.Parse(c.Server)
	if err != nil {
		return PodAccount{}, fmt.Errorf("kubetest: server %q: %w", c.Server, err)
	}
	out, err := os.MkdirTemp(dir, "serviceaccount-")
	if err != nil {
		return PodAccount{}, fmt.Errorf("kubetest: %w", err)
	}
	for file, data := range map[string][]byte{
		"token":     []byte(strings.TrimSpace(string(token))),
		"ca.crt":    ca,
		"namespace": []byte(ns),
	} {
		if err := os.WriteFile(filepath.Join(out, file), data, 0o600); err != nil {
			return PodAccount{}, fmt.Errorf("kubetest: %w", err)
		}
	}
	return PodAccount{Dir: out, Env: map[string]string{
		"KUBERNETES_SERVICE_HOST": u.Hostname(),
		"KUBERNETES_SERVICE_PORT": u.Port(),
	}}, nil
}

// NodeReader is RBAC that lets service account saNS/sa read nodes (what
// a cluster's health check lists), and nothing else.
func NodeReader(saNS, sa string) string {
	name := "read-nodes-" + saNS + "-" + sa
	return fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %[1]s}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %[1]s}
subjects:
- {kind: ServiceAccount, name: %[3]s, namespace: %[2]s}
`, name, saNS, sa)
}

// NamespaceAdmin is RBAC that creates namespace ns and lets service
// account saNS/sa do anything there with the core, apps, policy,
// autoscaling and discovery resources (a Role and RoleBinding in ns).
func NamespaceAdmin(ns, saNS, sa string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: %[3]s-admin, namespace: %[1]s}
rules:
- {apiGroups: ["", apps, policy, autoscaling, discovery.k8s.io], resources: ["*"], verbs: ["*"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: %[3]s-admin, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: %[3]s-admin}
subjects:
- {kind: ServiceAccount, name: %[3]s, namespace: %[2]s}
`, ns, saNS, sa)
}
