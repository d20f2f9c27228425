package gatewayd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/testcert"
	"github.com/berthdev/berth/pkg/api"
)

// projectSecrets lays out dir as the kubelet does for the gateway's
// projected volume of TLS Secrets: the files in a timestamped directory,
// a ..data link to it, and each NAME.crt / NAME.key a link through
// ..data (so an update swaps one link).
func projectSecrets(t *testing.T, dir string, pairs map[string]testcert.Pair) {
	t.Helper()
	ts := "..2026_11_27_23_00_00.123456789"
	if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name, p := range pairs {
		for ext, b := range map[string][]byte{".crt": p.CertPEM, ".key": p.KeyPEM} {
			if err := os.WriteFile(filepath.Join(dir, ts, name+ext), b, 0o440); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join("..data", name+ext), filepath.Join(dir, name+ext)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestEnvGatewayTLS runs the gateway as the routing reconciler runs it
// when an environment names TLS Secrets (--env, --tls-listen, --cert-dir
// laid out as the Secrets' projected volume): it serves the environment's
// route over HTTPS and HTTP/2 with the certificate whose name the client
// sends (SNI), and plain HTTP beside it.
func TestEnvGatewayTLS(t *testing.T) {
	t.Parallel()
	cp := envControlPlane(t, store.Environment{Name: "web", Namespace: "web", TLSSecrets: "shop-tls,api-tls"})
	ctx := context.Background()
	now := time.Now().UTC()
	sp := spec.App{Name: "shop", Routes: []spec.Route{{Host: "shop.example", Path: "/", Service: "web"}, {Host: "api.example", Path: "/", Service: "web"}}}
	b, _ := json.Marshal(sp)
	err := cp.db.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateApp(ctx, store.App{Name: "shop", Env: "web", LatestRelease: 1, TargetRelease: 1, CreatedAt: now, UpdatedAt: now,
			Status: api.AppStatus{Release: 1, Serving: 1, Phase: api.PhaseRunning, Services: []api.ServiceStatus{{Name: "web",
				Instances: []api.Instance{podServer(t, "shop-pod", 1)}}}}}); err != nil {
			return err
		}
		if err := tx.CreateRelease(ctx, store.Release{App: "shop", Number: 1, Spec: b, State: api.ReleaseDeployed, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, store.Event{Kind: api.EventAppStatus, App: "shop", Release: 1, Time: now})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pairs := map[string]testcert.Pair{}
	roots := x509.NewCertPool()
	for name, host := range map[string]string{"shop-tls": "shop.example", "api-tls": "api.example"} {
		p, err := testcert.New(now.Add(time.Hour), host)
		if err != nil {
			t.Fatal(err)
		}
		pairs[name] = p
		roots.AddCert(p.Cert)
	}
	certs := t.TempDir()
	projectSecrets(t, certs, pairs)

	cp.token = gatewayToken(t, cp, "web", "team-a")
	tlsAddr := freeAddr(t)
	gw := startGateway(t, cp, "", func(c *Config) { c.Env, c.TLSListen, c.CertDir = "web", tlsAddr, certs })
	eventually(t, 5*time.Second, "the environment's route is served over HTTP", func() error {
		if code, body, err := gw.get("/", map[string]string{"Host": "shop.example"}); err != nil || code != 200 || body != "shop-pod" {
			return fmt.Errorf("%d %q %v", code, body, err)
		}
		return nil
	})
	for _, host := range []string{"shop.example", "api.example"} {
		// The client trusts both certificates but checks the name: only
		// the one issued for host passes.
		tr := &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: host},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, tlsAddr)
			},
		}
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		res, err := c.Get("https://" + host + "/")
		if err != nil {
			t.Fatalf("%s over HTTPS: %v\n%s", host, err, gw.log)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		tr.CloseIdleConnections()
		if res.StatusCode != 200 || string(body) != "shop-pod" || res.ProtoMajor != 2 {
			t.Errorf("%s over HTTPS: %d %q %s", host, res.StatusCode, body, res.Proto)
		}
		if got := res.TLS.PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != host {
			t.Errorf("%s: served the certificate of %v", host, got)
		}
	}
}
