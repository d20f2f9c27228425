// Package kubetest starts real Kubernetes control planes for tests: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler, with simulated
// nodes from kwok, all run as processes by kwokctl's binary runtime.
//
// The binaries are built once by `make kube-testenv` (hack/kubeenv) into a
// cache outside the repository. Without them a test skips, except under CI
// (CI=true), where it fails: CI must really run against Kubernetes.
//
// This package only runs binaries; it does not import Kubernetes code, so
// Berth's main module stays free of k8s.io/kubernetes.
package kubetest
