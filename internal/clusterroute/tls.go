package clusterroute

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// HTTPS on an environment's gateway. The operator names kubernetes.io/tls
// Secrets of the namespace (made by hand or by cert-manager; Berth never
// writes or deletes them). The reconciler reads each one and mounts only
// those that hold a certificate and a key that belong together, so a
// missing or broken Secret never stops the gateway from starting (it
// would refuse a certificate directory with a bad pair, and a pod waits
// for a missing Secret forever): the gateway keeps serving HTTP, and the
// environment's status says what is wrong. The pods carry a digest of
// the mounted Secrets' versions, so a renewed certificate rolls them and
// the new pods load it.

const (
	tlsPort   = 8443
	certDir   = "/etc/berth/tls"
	tlsVolume = "tls"
	// annotationTLS on the pod template is the digest of the mounted
	// Secrets and their resource versions.
	annotationTLS = "berth.dev/tls"
)

// tlsState is what was found of an environment's TLS Secrets.
type tlsState struct {
	// Status is each configured Secret, in the configured order.
	Status []api.TLSSecretStatus
	// Served are the Secrets mounted, with their resource versions.
	Served []servedSecret
}

type servedSecret struct {
	Name, Version string
}

func tlsSecretNames(e store.Environment) []string {
	if e.TLSSecrets == "" {
		return nil
	}
	return strings.Split(e.TLSSecrets, ",")
}

// digest names the mounted set and versions ("" when none is mounted).
func (s tlsState) digest() string {
	if len(s.Served) == 0 {
		return ""
	}
	h := sha256.New()
	for _, x := range s.Served {
		fmt.Fprintf(h, "%s=%s\n", x.Name, x.Version)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// checkTLS reads the environment's TLS Secrets. A Secret that is missing,
// unreadable by Berth, of another type or not a valid pair is reported
// and not served; an error reaching the cluster fails the pass instead,
// so a passing network fault never takes a certificate off the gateway.
func checkTLS(ctx context.Context, kc kubernetes.Interface, e store.Environment, now time.Time) (tlsState, error) {
	var st tlsState
	for _, name := range tlsSecretNames(e) {
		s, err := kc.CoreV1().Secrets(e.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			st.Status = append(st.Status, api.TLSSecretStatus{Name: name, Error: fmt.Sprintf(
				"not found in namespace %s: create it (kubectl -n %s create secret tls %s --cert FILE --key FILE, or a cert-manager Certificate with secretName %s)",
				e.Namespace, e.Namespace, name, name)})
			continue
		case apierrors.IsForbidden(err):
			st.Status = append(st.Status, api.TLSSecretStatus{Name: name, Error: "Berth may not read it: " + err.Error()})
			continue
		case err != nil:
			return tlsState{}, fmt.Errorf("tls secret %s: %w", name, err)
		}
		ss := inspectTLSSecret(s, now)
		if ss.Served {
			st.Served = append(st.Served, servedSecret{Name: name, Version: s.ResourceVersion})
		}
		st.Status = append(st.Status, ss)
	}
	return st, nil
}

// inspectTLSSecret says whether a Secret can be served as a certificate,
// and which names it covers until when.
func inspectTLSSecret(s *corev1.Secret, now time.Time) api.TLSSecretStatus {
	out := api.TLSSecretStatus{Name: s.Name}
	if s.Type != corev1.SecretTypeTLS {
		out.Error = fmt.Sprintf("has type %q, want %q (kubectl create secret tls; cert-manager writes this type)", s.Type, corev1.SecretTypeTLS)
		return out
	}
	crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 || len(key) == 0 {
		out.Error = fmt.Sprintf("has no %s or no %s (cert-manager may not have issued it yet)", corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
		return out
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		out.Error = "is not a certificate with its key: " + err.Error()
		return out
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		out.Error = "certificate: " + err.Error()
		return out
	}
	out.Served, out.NotAfter = true, leaf.NotAfter.UTC()
	out.Names = append(out.Names, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		out.Names = append(out.Names, ip.String())
	}
	if len(out.Names) == 0 && leaf.Subject.CommonName != "" && net.ParseIP(leaf.Subject.CommonName) == nil {
		out.Names = []string{leaf.Subject.CommonName}
	}
	if now.After(leaf.NotAfter) {
		// Still served (the operator may be renewing it), but clients
		// refuse it: said as an error.
		out.Error = fmt.Sprintf("expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return out
}
