package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for names as dir/file.crt
// and dir/file.key, and returns it for clients to trust.
func writeCert(t *testing.T, dir, file string, names ...string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(filepath.Join(dir, file+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// serveTLS serves g over TLS on loopback.
func serveTLS(t *testing.T, g *Gateway) string {
	t.Helper()
	cfg, err := g.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := g.NewServer()
	srv.TLSConfig = cfg
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func tlsGet(t *testing.T, addr, host string, roots *x509.CertPool) (*http.Response, string) {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, InsecureSkipVerify: roots == nil, ServerName: host},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + host + "/tls")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestTLSSelfSignedHTTP2(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{TLS: &TLSOptions{SelfSigned: true}})
	mustLoad(t, g, simpleRoute("t/0", "shop.localhost", "/", backend(t, "web", echoProto)))
	addr := serveTLS(t, g)
	res, body := tlsGet(t, addr, "shop.localhost", nil)
	if res.ProtoMajor != 2 || body != "HTTP/1.1 https" {
		t.Fatalf("client %s, instance saw %q", res.Proto, body)
	}
	leaf := res.TLS.PeerCertificates[0]
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "shop.localhost" {
		t.Fatalf("self-signed certificate for %v, want shop.localhost", leaf.DNSNames)
	}
}

// echoProto answers with the protocol the instance was spoken to with and
// the X-Forwarded-Proto it got.
func echoProto(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, r.Proto+" "+r.Header.Get("X-Forwarded-Proto"))
}

func TestTLSOperatorCertificates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	shop := writeCert(t, dir, "shop", "shop.example.com")
	apps := writeCert(t, dir, "apps", "*.apps.example.com")
	if err := os.WriteFile(filepath.Join(dir, "ca-bundle.crt"), []byte("no key beside it: skipped"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := newTestGateway(t, Options{TLS: &TLSOptions{CertDir: dir}})
	mustLoad(t, g,
		simpleRoute("t/0", "shop.example.com", "/", backend(t, "shop", nil)),
		simpleRoute("t/1", "*.apps.example.com", "/", backend(t, "apps", nil)))
	addr := serveTLS(t, g)
	for _, tc := range []struct {
		host string
		cert *x509.Certificate
		want string
	}{
		{"shop.example.com", shop, "shop shop.example.com"},
		{"billing.apps.example.com", apps, "apps billing.apps.example.com"},
	} {
		roots := x509.NewCertPool()
		roots.AddCert(tc.cert)
		res, body := tlsGet(t, addr, tc.host, roots) // verifies the chain and the name
		if !strings.HasPrefix(body, tc.want) || res.ProtoMajor != 2 {
			t.Fatalf("%s: %s %q", tc.host, res.Proto, body)
		}
	}
	if _, err := newTestGateway(t, Options{TLS: &TLSOptions{CertDir: t.TempDir()}}).TLSConfig(); err == nil || !strings.Contains(err.Error(), "no NAME.crt with NAME.key") {
		t.Fatalf("empty certificate directory: %v", err)
	}
}

func TestH2C(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	base := front(t, g)
	mustLoad(t, g, simpleRoute("h2c/0", "shop.localhost", "/", backend(t, "web", echoProto)))
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Host = "shop.localhost"
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.ProtoMajor != 2 || string(b) != "HTTP/1.1 http" {
		t.Fatalf("client %s, instance saw %q", res.Proto, b)
	}
}
