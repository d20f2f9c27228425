package kubecluster

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/berthdev/berth/internal/kubetest"
)

func kubeconfig(t *testing.T, server, token string, ca []byte, extra bool) []byte {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c1"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca, InsecureSkipTLSVerify: ca == nil && strings.HasPrefix(server, "https")}
	cfg.AuthInfos["u1"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["one"] = &clientcmdapi.Context{Cluster: "c1", AuthInfo: "u1"}
	if extra {
		cfg.Clusters["c2"] = &clientcmdapi.Cluster{Server: "https://other.example:6443"}
		cfg.AuthInfos["u2"] = &clientcmdapi.AuthInfo{Token: "other-secret-token"}
		cfg.Contexts["two"] = &clientcmdapi.Context{Cluster: "c2", AuthInfo: "u2"}
	}
	cfg.CurrentContext = "one"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	good := kubeconfig(t, "https://127.0.0.1:1", "tok", nil, true)
	for _, c := range []struct {
		desc, context string
		data          []byte
		text          string
	}{
		{"not yaml", "", []byte("{{{"), "bad kubeconfig"},
		{"unknown context", "three", good, `context "three" not found; it has contexts one, two`},
	} {
		t.Run(c.desc, func(t *testing.T) {
			_, err := Config(c.data, c.context)
			if !errors.Is(err, ErrBadKubeconfig) || !strings.Contains(err.Error(), c.text) {
				t.Errorf("Config: %v, want ErrBadKubeconfig saying %q", err, c.text)
			}
		})
	}
	if cfg, err := Config(good, "two"); err != nil || cfg.Host != "https://other.example:6443" || cfg.BearerToken != "other-secret-token" {
		t.Errorf("Config(two) = %+v, %v", cfg, err)
	}
}

// Only the chosen context's credentials are kept.
func TestMinimalKeepsOneContext(t *testing.T) {
	t.Parallel()
	out, server, err := Minimal(kubeconfig(t, "https://127.0.0.1:1", "tok", nil, true), "one")
	if err != nil {
		t.Fatal(err)
	}
	if server != "https://127.0.0.1:1" || strings.Contains(string(out), "other-secret-token") || strings.Contains(string(out), "two") {
		t.Errorf("minimal kubeconfig for %s:\n%s", server, out)
	}
	if _, err := Config(out, ""); err != nil {
		t.Errorf("the minimal kubeconfig does not load: %v", err)
	}
}

// Nothing listens: the error names the cluster and says unreachable.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := Config(kubeconfig(t, "https://"+addr, "tok", nil, false), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Inspect(context.Background(), cfg, "prod-eu")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "cluster prod-eu") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Inspect of a closed port: %v, want ErrUnreachable naming prod-eu and the cause", err)
	}
}

// Against a real control plane: what Inspect reports, a wrong token, and
// a certificate authority that did not sign the server's certificate.
func TestRealCluster(t *testing.T) {
	t.Parallel()
	c := kubetest.Start(t, kubetest.Options{Nodes: 2})
	admin, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Config(admin, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := Inspect(ctx, cfg, "kwok")
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != kubetest.KubeVersion || info.Nodes != 2 || info.ReadyNodes != 2 || info.AllocatableCPU == "0" || info.AllocatablePods == 0 {
		t.Errorf("Inspect = %+v, want version %s and 2 ready nodes with capacity", info, kubetest.KubeVersion)
	}

	t.Run("bad credentials", func(t *testing.T) {
		bad, err := Config(kubeconfig(t, c.Server, "not-a-valid-token", caOf(t, cfg), false), "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Inspect(ctx, bad, "kwok")
		if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "cluster kwok") || strings.Contains(err.Error(), "not-a-valid-token") {
			t.Fatalf("Inspect with a wrong token: %v, want ErrUnauthorized naming the cluster (and not the token)", err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		other := kubetest.Start(t, kubetest.Options{})
		otherCfg, err := Config(mustRead(t, other.Kubeconfig), "")
		if err != nil {
			t.Fatal(err)
		}
		// c's server with other's certificate authority.
		wrong, err := Config(kubeconfig(t, c.Server, "tok", caOf(t, otherCfg), false), "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Inspect(ctx, wrong, "kwok")
		if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "cluster kwok") {
			t.Fatalf("Inspect with another CA: %v, want ErrUntrusted naming the cluster", err)
		}
	})
}

// caOf is the certificate authority a config trusts (kwokctl's kubeconfig
// names a file).
func caOf(t *testing.T, cfg *rest.Config) []byte {
	t.Helper()
	if len(cfg.CAData) > 0 {
		return cfg.CAData
	}
	if cfg.CAFile == "" {
		t.Fatal("the config has no certificate authority")
	}
	return mustRead(t, cfg.CAFile)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
