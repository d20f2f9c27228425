package kubecluster

import "errors"

var (
	// ErrUnreachable: nothing answered at the cluster's address (refused,
	// timed out, DNS, TLS handshake).
	ErrUnreachable = errors.New("cluster unreachable")
	// ErrUnauthorized: the cluster answered 401: the credentials are wrong
	// or expired.
	ErrUnauthorized = errors.New("cluster refused the credentials")
	// ErrUntrusted: the cluster's TLS certificate is not signed by the
	// kubeconfig's certificate authority, or names another host.
	ErrUntrusted = errors.New("cluster certificate not trusted")
	// ErrForbidden: the credentials are valid but lack a permission Berth needs.
	ErrForbidden = errors.New("cluster forbids the request")
	// ErrBadKubeconfig: the kubeconfig cannot be read or lacks the context.
	ErrBadKubeconfig = errors.New("bad kubeconfig")
)
