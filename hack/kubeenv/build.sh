#!/usr/bin/env bash
# Builds the real Kubernetes control plane that Berth's tests start through
# internal/kubetest: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok and kwokctl, all from the Go module proxy.
#
# The binaries go to a cache outside the repository, keyed by the Kubernetes
# version ($BERTH_KUBE_CACHE, default ~/.cache/berth/kube-<version>), so a
# fresh clone reuses them. Each binary has a stamp file naming what it was
# built from; a binary whose stamp matches is not built again.
#
# Usage: hack/kubeenv/build.sh   (or `make kube-testenv`)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
GO=${GO:-go}

# The versions live in go.mod (Kubernetes, etcd) so that there is one place
# to change them; kwok is installed by `go install` and so named here.
mod_version() { awk -v m="$1" '$1 == m { print $2; exit }' "$here/go.mod"; }
KUBE_VERSION=$(mod_version k8s.io/kubernetes)
ETCD_VERSION=$(mod_version go.etcd.io/etcd/server/v3)
KWOK_VERSION=v0.8.0
if [[ -z $KUBE_VERSION || -z $ETCD_VERSION ]]; then
	echo "kube-testenv: cannot read the versions from $here/go.mod" >&2
	exit 1
fi

cache=${BERTH_KUBE_CACHE:-$HOME/.cache/berth/kube-$KUBE_VERSION}
mkdir -p "$cache/stamps"

# shellcheck source=ldflags.sh
. "$here/ldflags.sh"

export CGO_ENABLED=0
total_start=$SECONDS
built=0

log() { printf 'kube-testenv: %s\n' "$*"; }

elapsed() {
	local s=$(($SECONDS - $1))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}

# fresh NAME STAMP: true when NAME is built and its stamp says STAMP.
fresh() {
	[[ -x $cache/$1 && -f $cache/stamps/$1 && "$(cat "$cache/stamps/$1")" == "$2" ]]
}

# finish NAME STAMP TMPFILE: moves a finished build into place, stamp last,
# so an interrupted build is never taken for a complete one.
finish() {
	mv -f "$3" "$cache/$1"
	printf '%s\n' "$2" >"$cache/stamps/$1"
}

# build_kube NAME PACKAGE STAMP LDFLAGS: builds one binary of the kubeenv module.
build_kube() {
	local name=$1 pkg=$2 stamp=$3 ldflags=$4
	if fresh "$name" "$stamp"; then
		log "$name: up to date ($stamp)"
		return
	fi
	log "$name: building from $stamp ..."
	local start=$SECONDS
	(cd "$here" && $GO build -trimpath -ldflags "$ldflags" -o "$cache/$name.tmp" "$pkg")
	finish "$name" "$stamp" "$cache/$name.tmp"
	built=$((built + 1))
	log "$name: built in $(elapsed $start)"
}

# install_kwok NAME: go install of one kwok command at KWOK_VERSION.
install_kwok() {
	local name=$1 stamp="sigs.k8s.io/kwok $KWOK_VERSION"
	if fresh "$name" "$stamp"; then
		log "$name: up to date ($stamp)"
		return
	fi
	log "$name: installing $stamp ..."
	local start=$SECONDS tmp
	tmp=$(mktemp -d "$cache/.gobin.XXXXXX")
	GOBIN=$tmp $GO install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/$name@$KWOK_VERSION"
	finish "$name" "$stamp" "$tmp/$name"
	rmdir "$tmp"
	built=$((built + 1))
	log "$name: installed in $(elapsed $start)"
}

log "cache $cache (Kubernetes $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"

if ! fresh kube-apiserver "k8s.io/kubernetes $KUBE_VERSION" || ! fresh etcd "go.etcd.io/etcd/server/v3 $ETCD_VERSION"; then
	log "downloading modules ..."
	start=$SECONDS
	(cd "$here" && $GO mod download)
	log "modules downloaded in $(elapsed $start)"
fi

build_kube etcd ./cmd/etcd "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "-s -w"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
	build_kube "$cmd" "k8s.io/kubernetes/cmd/$cmd" "k8s.io/kubernetes $KUBE_VERSION" "$kube_ldflags"
done
install_kwok kwok
install_kwok kwokctl

log "done: $built built, in $(elapsed $total_start); binaries in $cache"
