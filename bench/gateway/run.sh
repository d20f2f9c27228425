#!/usr/bin/env bash
# Gateway benchmark: the same 100-byte keep-alive backend reached directly
# and through nginx, HAProxy, Caddy and Berth's gateway, in one run, all on
# 127.0.0.1. Prints a Markdown report (medians and ratios) on stdout and
# keeps it, with every process's log, in $OUT (default a new /tmp folder).
#
#   bench/gateway/run.sh                   # everything, about 10 minutes
#   DURATION=5s ROUNDS=1 bench/gateway/run.sh
#
# Knobs (environment): THREADS (2) CONNS (64) DURATION (10s) ROUNDS (3)
# WARMUP (2s) NGINX_WORKERS (auto) ROUTES (10000) FRACTIONS (0.25,0.5)
# OPENLOOP_DURATION (10s) PHASES (main,openloop,routes,pinned; with both
# openloop and pinned, the open loop also runs pinned)
# BERTH_LOG_LEVEL (info) PROXY_CPU (0) LOAD_CPU (1) OUT; NO_CADDY=1 leaves
# Caddy out (no build, no rows); QUIET_WAIT (2m):
# before each run, wait up to this long for other work on the machine to
# stop. BERTH=path measures that binary instead of running `make build`.
#
# Needs wrk, nginx, haproxy (Debian packages) and taskset; installs them
# when run as root. Caddy is built once from the Go module proxy into
# ~/.cache/berth/tools (a few minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TOOLS="${HOME}/.cache/berth/tools"
CADDY="$TOOLS/caddy"

die() { echo "bench/gateway: $*" >&2; exit 1; }

# --- tools -----------------------------------------------------------------
missing=()
for t in wrk nginx haproxy taskset; do
	command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if ((${#missing[@]})); then
	pkgs=("${missing[@]/taskset/util-linux}")
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "bench/gateway: installing ${pkgs[*]}" >&2
		apt-get update -qq
		# policy-rc.d or no init system keeps the packaged services from starting.
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
	else
		die "missing ${missing[*]}: install with: sudo apt-get install -y ${pkgs[*]}"
	fi
fi
if [[ -n ${NO_CADDY:-} ]]; then
	CADDY=
elif [[ ! -x $CADDY ]]; then
	echo "bench/gateway: building Caddy into $TOOLS (once; a few minutes)" >&2
	mkdir -p "$TOOLS"
	GOBIN="$TOOLS" go install github.com/caddyserver/caddy/v2/cmd/caddy@latest ||
		die "could not build Caddy (go install github.com/caddyserver/caddy/v2/cmd/caddy@latest)"
fi

# --- build -----------------------------------------------------------------
WORK=$(mktemp -d /tmp/berth-gwbench.XXXXXX)
OUT=${OUT:-$(mktemp -d /tmp/berth-gwbench-out.XXXXXX)}
mkdir -p "$OUT"
HARNESS_PID=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $HARNESS_PID ]] && kill -0 "$HARNESS_PID" 2>/dev/null; then
		kill -TERM "$HARNESS_PID" 2>/dev/null || true
		# The harness stops its processes on SIGTERM; give it time.
		for _ in $(seq 1 60); do kill -0 "$HARNESS_PID" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$HARNESS_PID" 2>/dev/null || true
	fi
	# Last resort, if the harness could not clean up: every process whose
	# command line names $WORK (a fresh mktemp folder, so nothing else's):
	# the proxies, the backends, Berth's server and the shims and instances
	# it runs in sessions of their own. nginx's workers rename themselves but
	# share their master's process group.
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[[ $pid == "$$" ]] && continue
		# A process may end between the glob and the read: ignore that.
		cmd=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
		if [[ $cmd == *"$WORK"* ]]; then
			echo "bench/gateway: killing leftover pid $pid: ${cmd:0:100}" >&2
			kill -KILL -- "-$pid" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	if ((rc != 0)); then
		echo "bench/gateway: failed; logs kept in $WORK/logs" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BERTH_GIVEN=${BERTH:-}
if [[ -n ${BERTH:-} ]]; then
	[[ -x $BERTH ]] || die "BERTH=$BERTH is not an executable"
	BERTH=$(cd "$(dirname "$BERTH")" && pwd)/$(basename "$BERTH")
	echo "bench/gateway: measuring $BERTH as it is (BERTH is set; not rebuilding)" >&2
else
	make -s build || die "make build failed; to measure an existing binary anyway: BERTH=bin/berth $0"
	BERTH=$ROOT/bin/berth
fi
mkdir -p "$WORK/bin"
go build -o "$WORK/bin/backend" ./bench/gateway/backend
go build -o "$WORK/bin/openloop" ./bench/gateway/openloop
go build -o "$WORK/bin/gateway-bench" ./bench/gateway
if [[ -n ${BERTH_GIVEN:-} ]]; then
	REV="given as BERTH=$BERTH_GIVEN"
else
	REV="built from tree $(git describe --tags --always --dirty 2>/dev/null || echo unknown)"
fi

# --- run -------------------------------------------------------------------
"$WORK/bin/gateway-bench" \
	-berth "$BERTH" -berth-rev "$REV" \
	-backend "$WORK/bin/backend" -openloop "$WORK/bin/openloop" -caddy "$CADDY" \
	-work "$WORK" -out "$OUT" \
	-threads "${THREADS:-2}" -conns "${CONNS:-64}" -duration "${DURATION:-10s}" \
	-rounds "${ROUNDS:-3}" -warmup "${WARMUP:-2s}" -nginx-workers "${NGINX_WORKERS:-auto}" \
	-routes "${ROUTES:-10000}" -fractions "${FRACTIONS:-0.25,0.5}" -openloop-duration "${OPENLOOP_DURATION:-10s}" \
	-phases "${PHASES:-main,openloop,routes,pinned}" -berth-log-level "${BERTH_LOG_LEVEL:-info}" \
	-proxy-cpu "${PROXY_CPU:-0}" -load-cpu "${LOAD_CPU:-1}" -quiet-wait "${QUIET_WAIT:-2m}" &
HARNESS_PID=$!
wait "$HARNESS_PID"
HARNESS_PID=
echo "bench/gateway: report in $OUT/report.md" >&2
