#!/usr/bin/env bash
# Builds a real node for Berth's Kubernetes tests (kubetest.Options.RealNode):
# the kubelet (from this module, as build.sh builds the control plane),
# containerd 2 with its runc shim and ctr, and the CNI plugins, all from
# the Go module proxy. runc is Debian's (apt-get install runc); busybox
# (busybox-static) and git make the test images from the host's files.
#
# The binaries go to realnode/ of the control plane's cache
# ($BERTH_KUBE_CACHE, default ~/.cache/berth/kube-<version>), each with a
# stamp naming what it was built from; a binary whose stamp matches is not
# built again.
#
# Usage: hack/kubeenv/realnode.sh   (or `make kube-realnode`)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
GO=${GO:-go}

# kubetest.ContainerdVersion and kubetest.CNIPluginsVersion must match
# (a test checks).
CONTAINERD_VERSION=v2.2.9
CNI_PLUGINS_VERSION=v1.9.1
KUBE_VERSION=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")

cache=${BERTH_KUBE_CACHE:-$HOME/.cache/berth/kube-$KUBE_VERSION}/realnode
mkdir -p "$cache/stamps" "$cache/cni"

# shellcheck source=ldflags.sh
. "$here/ldflags.sh"

export CGO_ENABLED=0
start=$SECONDS
log() { printf 'kube-realnode: %s\n' "$*"; }

# fresh PATH STAMP: true when PATH (under the cache) is built from STAMP.
fresh() {
	[[ -x $cache/$1 && -f $cache/stamps/$(basename "$1") && "$(cat "$cache/stamps/$(basename "$1")")" == "$2" ]]
}

# finish PATH STAMP TMPFILE: moves a finished build into place, stamp last.
finish() {
	mv -f "$3" "$cache/$1"
	printf '%s\n' "$2" >"$cache/stamps/$(basename "$1")"
}

stamp="k8s.io/kubernetes $KUBE_VERSION"
if fresh kubelet "$stamp"; then
	log "kubelet: up to date ($stamp)"
else
	log "kubelet: building from $stamp ..."
	(cd "$here" && $GO build -trimpath -ldflags "$kube_ldflags" -o "$cache/kubelet.tmp" k8s.io/kubernetes/cmd/kubelet)
	finish kubelet "$stamp" "$cache/kubelet.tmp"
fi

# install STAMP MODULE VERSION PATH...: go install of commands of one
# module at VERSION with its own go.mod, each to PATH under the cache.
install() {
	local stamp=$1 module=$2 version=$3
	shift 3
	local todo=() path
	for path in "$@"; do
		fresh "$path" "$stamp" || todo+=("$path")
	done
	if ((${#todo[@]} == 0)); then
		log "$module: up to date ($stamp)"
		return
	fi
	log "$module: installing ${todo[*]} ..."
	local tmp pkgs=()
	tmp=$(mktemp -d "$cache/.gobin.XXXXXX")
	for path in "${todo[@]}"; do
		pkgs+=("$module/$(pkg_of "$path")@$version")
	done
	GOBIN=$tmp $GO install -trimpath -ldflags "-s -w" "${pkgs[@]}"
	for path in "${todo[@]}"; do
		finish "$path" "$stamp" "$tmp/$(basename "$path")"
	done
	rmdir "$tmp"
}

# pkg_of PATH: the package (under its module) that builds PATH.
pkg_of() {
	case $1 in
	containerd | ctr | containerd-shim-runc-v2) echo "cmd/$1" ;;
	cni/bridge) echo plugins/main/bridge ;;
	cni/loopback) echo plugins/main/loopback ;;
	cni/host-local) echo plugins/ipam/host-local ;;
	cni/portmap) echo plugins/meta/portmap ;;
	*)
		echo "kube-realnode: no package for $1" >&2
		return 1
		;;
	esac
}

install "github.com/containerd/containerd/v2 $CONTAINERD_VERSION" github.com/containerd/containerd/v2 "$CONTAINERD_VERSION" \
	containerd ctr containerd-shim-runc-v2
install "github.com/containernetworking/plugins $CNI_PLUGINS_VERSION" github.com/containernetworking/plugins "$CNI_PLUGINS_VERSION" \
	cni/bridge cni/host-local cni/loopback cni/portmap

# The Debian tools the node and its test images use. As root (CI, and the
# only way a real node runs), missing ones are installed, as
# postgres-testenv installs PostgreSQL; otherwise a warning says what to do.
missing=()
for tool in runc busybox git ldd ip; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		log "installing Debian's runc busybox-static git iproute2 (missing: ${missing[*]})"
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q runc busybox-static git iproute2
	else
		log "warning: no ${missing[*]} on PATH; a real node needs them (apt-get install runc busybox-static git iproute2, as root)"
	fi
fi
log "done in $((SECONDS - start)) s; binaries in $cache"
