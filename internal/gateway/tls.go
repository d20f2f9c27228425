package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// TLSOptions are the certificates the gateway's HTTPS listener serves.
// The certificate for a connection is chosen by SNI: an exact name of an
// operator certificate, then a wildcard one, then (SelfSigned) a
// certificate generated for the name, else the first operator certificate.
type TLSOptions struct {
	// Certs are certificate and key files (PEM); each serves the names its
	// certificate lists.
	Certs []CertFile
	// CertDir holds more pairs: every NAME.crt (or NAME.pem) with NAME.key.
	CertDir string
	// SelfSigned generates a self-signed certificate for names no operator
	// certificate covers: for local use (browsers warn).
	SelfSigned bool
}

// CertFile is one certificate chain and its private key, both PEM files.
type CertFile struct {
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
}

// maxGenerated bounds the self-signed certificates kept, so clients
// sending random server names cannot grow memory without limit.
const maxGenerated = 1024

// TLSConfig loads the configured certificates and returns a config for
// the gateway's HTTPS listener, offering HTTP/2 and HTTP/1.1.
func (g *Gateway) TLSConfig() (*tls.Config, error) {
	o := g.opts.TLS
	if o == nil {
		return nil, errors.New("gateway: TLS is not configured (Options.TLS)")
	}
	s := &certStore{byName: map[string]*tls.Certificate{}, selfSigned: o.SelfSigned, generated: map[string]*tls.Certificate{}}
	files := append([]CertFile(nil), o.Certs...)
	if o.CertDir != "" {
		more, err := certDirFiles(o.CertDir)
		if err != nil {
			return nil, err
		}
		files = append(files, more...)
	}
	for _, f := range files {
		if err := s.add(f); err != nil {
			return nil, err
		}
	}
	if s.first == nil && !s.selfSigned {
		return nil, errors.New("gateway: TLS has no certificate: give certificate files, a certificate directory, or self-signed")
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: s.get,
	}, nil
}

func certDirFiles(dir string) ([]CertFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("gateway: certificate directory: %w", err)
	}
	var out []CertFile
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || (ext != ".crt" && ext != ".pem") {
			continue
		}
		key := filepath.Join(dir, strings.TrimSuffix(name, ext)+".key")
		if _, err := os.Stat(key); err != nil {
			continue // a CA bundle or a chain without its key: not a serving pair
		}
		out = append(out, CertFile{CertFile: filepath.Join(dir, name), KeyFile: key})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CertFile < out[j].CertFile })
	if len(out) == 0 {
		return nil, fmt.Errorf("gateway: certificate directory %s: no NAME.crt with NAME.key", dir)
	}
	return out, nil
}

type certStore struct {
	byName     map[string]*tls.Certificate // lower-case names, "*.example.com" for wildcards
	first      *tls.Certificate
	selfSigned bool

	mu        sync.Mutex
	key       *ecdsa.PrivateKey
	generated map[string]*tls.Certificate
}

func (s *certStore) add(f CertFile) error {
	c, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return fmt.Errorf("gateway: certificate %s: %w", f.CertFile, err)
	}
	leaf := c.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return fmt.Errorf("gateway: certificate %s: %w", f.CertFile, err)
		}
	}
	names := leaf.DNSNames
	if len(names) == 0 && leaf.Subject.CommonName != "" {
		names = []string{leaf.Subject.CommonName}
	}
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	for _, n := range names {
		n = strings.ToLower(n)
		if _, dup := s.byName[n]; !dup {
			s.byName[n] = &c
		}
	}
	if s.first == nil {
		s.first = &c
	}
	return nil
}

func (s *certStore) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if c := s.byName[name]; c != nil {
		return c, nil
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if c := s.byName["*"+name[i:]]; c != nil {
			return c, nil
		}
	}
	if s.selfSigned {
		return s.generate(name)
	}
	return s.first, nil
}

// generate returns a cached self-signed certificate for name ("" is
// localhost, for clients that connect by IP).
func (s *certStore) generate(name string) (*tls.Certificate, error) {
	if name == "" {
		name = "localhost"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.generated[name]; c != nil {
		return c, nil
	}
	if len(s.generated) >= maxGenerated {
		name = "localhost"
		if c := s.generated[name]; c != nil {
			return c, nil
		}
	}
	if s.key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("gateway: self-signed key: %w", err)
		}
		s.key = k
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"Berth gateway (self-signed)"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	if name == "localhost" {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &s.key.PublicKey, s.key)
	if err != nil {
		return nil, fmt.Errorf("gateway: self-signed certificate for %s: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: s.key, Leaf: leaf}
	s.generated[name] = c
	return c, nil
}
