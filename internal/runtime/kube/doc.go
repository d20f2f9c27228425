// Package kube is the Kubernetes runtime: it runs Berth workloads on a
// cluster behind the same runtime.Runtime interface as the local runtime.
//
// A workload (one service of one release) becomes a Deployment with a
// Service, a ConfigMap for the declared env, a Secret for the env Berth
// adds, a PodDisruptionBudget when it has two or more replicas, and
// PersistentVolumeClaims for its volumes (shared by every release of the
// service). Each service of an app also has an address Service that
// selects its pods of every release, whose DNS name its dependents are
// given (address.go). Every object is written by server-side apply under
// one field manager and carries app.kubernetes.io/* and berth.dev/*
// labels; Berth prunes and deletes only objects labelled as managed by it.
//
// Status comes from shared informers (no polling). The runtime remembers
// what it applied and re-applies a workload whose objects are deleted or
// edited behind its back (drift repair).
package kube
