package kubetest

import (
	"fmt"
	"net"
)

// ports are the host ports of one cluster's components.
//
// kwokctl picks free ports itself by counting down from 32767 and probing,
// and it only skips ports of clusters in its own work directory. Two
// clusters created at the same time in separate work directories would both
// pick 32767, so the ports are chosen here, by the kernel, instead.
type ports struct {
	KubeApiserver         int
	Etcd                  int
	EtcdPeer              int
	KwokController        int
	KubeControllerManager int
	KubeScheduler         int
}

// freePorts asks the kernel for six distinct free ports (freeTCPPorts).
func freePorts() (ports, error) {
	got, err := freeTCPPorts(6)
	if err != nil {
		return ports{}, fmt.Errorf("kubetest: %w", err)
	}
	return ports{
		KubeApiserver:         got[0],
		Etcd:                  got[1],
		EtcdPeer:              got[2],
		KwokController:        got[3],
		KubeControllerManager: got[4],
		KubeScheduler:         got[5],
	}, nil
}

// freeTCPPorts asks the kernel for n distinct free ports on all addresses
// (so free on 127.0.0.1 too). All listeners are held open until the last
// port is chosen, so the n differ.
func freeTCPPorts(n int) ([]int, error) {
	got := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close()
		got = append(got, ln.Addr().(*net.TCPAddr).Port)
	}
	return got, nil
}

// kwokConfig is the kwokctl configuration file that fixes the ports (the
// etcd peer port has no flag) and the Kubernetes version, which decides the
// flags kwokctl passes to each component.
func (p ports) kwokConfig() string {
	return fmt.Sprintf(`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  kubeVersion: %s
  kubeApiserverPort: %d
  etcdPort: %d
  etcdPeerPort: %d
  kwokControllerPort: %d
  kubeControllerManagerPort: %d
  kubeSchedulerPort: %d
componentsPatches:
# The API server's default service range is a /24: 254 Services, fewer
# than a benchmark of 1,000 services needs.
- name: kube-apiserver
  extraArgs:
  - key: service-cluster-ip-range
    value: 10.0.0.0/16
`, KubeVersion, p.KubeApiserver, p.Etcd, p.EtcdPeer, p.KwokController, p.KubeControllerManager, p.KubeScheduler)
}
