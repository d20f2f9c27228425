package kubecluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/kubetest"
)

// testCA is a self-signed CA certificate in PEM (it only has to parse).
var testCA = func() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}()

func writeAccount(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func podEnv(host, port string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		switch k {
		case "KUBERNETES_SERVICE_HOST":
			return host, host != ""
		case "KUBERNETES_SERVICE_PORT":
			return port, port != ""
		}
		return "", false
	}
}

func TestInClusterSourceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		files    map[string]string
		env      func(string) (string, bool)
		notInPod bool
		text     string
	}{
		{desc: "no address", files: map[string]string{"token": "t", "ca.crt": testCA}, env: podEnv("", ""), notInPod: true, text: "KUBERNETES_SERVICE_HOST"},
		{desc: "no token", files: map[string]string{"ca.crt": testCA}, env: podEnv("10.0.0.1", "443"), notInPod: true, text: "token"},
		{desc: "empty token", files: map[string]string{"token": "\n", "ca.crt": testCA}, env: podEnv("10.0.0.1", "443"), notInPod: true, text: "empty"},
		{desc: "no CA", files: map[string]string{"token": "t"}, env: podEnv("10.0.0.1", "443"), text: "CA certificate"},
		{desc: "CA not a certificate", files: map[string]string{"token": "t", "ca.crt": "nope"}, env: podEnv("10.0.0.1", "443"), text: "CA certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			_, err := InClusterSource{Dir: writeAccount(t, tc.files), LookupEnv: tc.env}.Config()
			if err == nil || errors.Is(err, ErrNotInCluster) != tc.notInPod || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("Config: %v; want an error saying %q (not in a cluster: %v)", err, tc.text, tc.notInPod)
			}
		})
	}
}

func TestInClusterSourceConfig(t *testing.T) {
	t.Parallel()
	dir := writeAccount(t, map[string]string{"token": "abc\n", "ca.crt": testCA, "namespace": "berth\n"})
	src := InClusterSource{Dir: dir, LookupEnv: podEnv("fd00::1", "6443")}
	cfg, err := src.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://[fd00::1]:6443" || cfg.BearerToken != "abc" || cfg.BearerTokenFile != filepath.Join(dir, "token") ||
		cfg.CAFile != filepath.Join(dir, "ca.crt") || cfg.Timeout != Timeout {
		t.Errorf("config %+v", cfg)
	}
	if ns := src.Namespace(); ns != "berth" {
		t.Errorf("namespace %q", ns)
	}
	if ns := (InClusterSource{Dir: t.TempDir()}).Namespace(); ns != "" {
		t.Errorf("namespace without the file: %q", ns)
	}
}

// A service account's token against a real control plane: with rights,
// the cluster reports its version and nodes; without, the error names the
// cluster and says it forbids the request.
func TestInClusterRealCluster(t *testing.T) {
	t.Parallel()
	c := kubetest.Start(t, kubetest.Options{Nodes: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	good, err := c.ServiceAccount(ctx, "berth-system", "berth", kubetest.NodeReader("berth-system", "berth"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := InClusterSource{Dir: good.Dir, LookupEnv: good.LookupEnv}.Config()
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(ctx, cfg, "here")
	if err != nil || info.Version != kubetest.KubeVersion || info.Nodes != 1 {
		t.Fatalf("Inspect with the service account: %+v %v", info, err)
	}

	none, err := c.ServiceAccount(ctx, "berth-system", "nobody", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = InClusterSource{Dir: none.Dir, LookupEnv: none.LookupEnv}.Config()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Inspect(ctx, cfg, "here")
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "cluster here") || !strings.Contains(err.Error(), "system:serviceaccount:berth-system:nobody") {
		t.Fatalf("Inspect without rights: %v; want ErrForbidden naming the cluster and the account", err)
	}
}
