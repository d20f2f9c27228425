# Sourced by build.sh and realnode.sh: sets kube_ldflags, the linker flags
# of every Kubernetes binary built from this module, for $KUBE_VERSION.
# Clients (kubectl, kwokctl) read the server's version from these variables;
# an unset gitVersion reads as v0.0.0-master, which some clients reject.
minor=${KUBE_VERSION#v1.}
minor=${minor%%.*}
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
