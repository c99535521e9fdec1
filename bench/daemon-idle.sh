#!/bin/bash
# daemon-idle.sh — idle memory of berthd beside dockerd (+ its containerd), both started here
# on private roots and sockets, measured twice: SETTLE seconds after start-up, and SETTLE seconds
# after some use through the docker CLI (version, info, import of a small busybox image, images,
# inspect, system df, rmi, prune).
#
# Usage: bench/daemon-idle.sh   (as root; dockerd is measured only if /usr/sbin/dockerd exists —
#        apt-get install docker.io — and is started with --iptables=false --ip-masq=false
#        --bridge=none so that it touches no firewall or link of the host)
#
# Environment: SETTLE=5 (seconds idle before a sample), BERTHD=path (default the repo's
# bin/berthd, built with `make build` if missing), DOCKERD=/usr/sbin/dockerd, DOCKER=docker CLI
# (default /usr/local/bin/docker; without one the "after use" figures are n/a).
#
# Prints RSS and PSS (from /proc/PID/smaps_rollup) per daemon and a summary:
#   daemon-idle  berthd=NkB (after use NkB) dockerd+containerd=NkB (after use NkB)  berthd/docker=0.NN
#   goal         berthd idle RSS <= 30 MB (30720 kB): met|NOT met
# Exit status: 0 when berthd was measured (whether or not the goal is met), 1 when berthd failed, 2
# on a setup error. The daemons are stopped and the temp dir removed on exit, also on failure.
set -u -o pipefail
export LC_ALL=C
SETTLE=${SETTLE:-5}
GOAL_KB=30720
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTHD=${BERTHD:-$REPO/bin/berthd}
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
if [ -z "${DOCKER:-}" ]; then
  DOCKER=/usr/local/bin/docker
  [ -x "$DOCKER" ] || DOCKER=$(command -v docker || echo /usr/local/bin/docker)
fi
die() { echo "daemon-idle.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root"
case "$SETTLE" in '' | *[!0-9]*) die "SETTLE must be a whole number of seconds" ;; esac
if [ ! -x "$BERTHD" ] && [ "$BERTHD" = "$REPO/bin/berthd" ]; then
  make -C "$REPO" build >/dev/null || die "make build failed"
fi
[ -x "$BERTHD" ] || die "no berthd at $BERTHD (make build)"

W=$(mktemp -d /tmp/berth-idle.XXXXXX) || die mktemp
declare -A PID SOCK
cleanup() {
  local e p m
  trap - EXIT INT TERM
  for e in "${!PID[@]}"; do
    p=${PID[$e]}
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  for m in $(awk -v r="$W/" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    echo "!! mount left under $W: $m (unmounting)"
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# mem PID...: summed RSS and PSS in kB
mem() {
  local rss=0 pss=0 p r s
  for p in "$@"; do
    r=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null)
    s=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
    rss=$((rss + ${r:-0})) pss=$((pss + ${s:-0}))
  done
  echo "$rss $pss"
}
# tree PID: PID and all its descendants (dockerd's containerd and shims)
tree() {
  local p c
  echo "$1"
  for p in /proc/"$1"/task/*/children; do
    for c in $(cat "$p" 2>/dev/null); do tree "$c"; done
  done
}
wait_ping() { # wait_ping ENGINE SECONDS
  for _ in $(seq $(($2 * 10))); do
    curl -sf --unix-socket "${SOCK[$1]}" http://x/_ping >/dev/null 2>&1 && return 0
    kill -0 "${PID[$1]}" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
dk() { DOCKER_HOST="unix://${SOCK[$1]}" DOCKER_CONFIG="$W/docker-config" timeout 60 "$DOCKER" "${@:2}" >>"$W/$1.cli.log" 2>&1; }

# A small image to import: a busybox root file system (when /bin/busybox exists).
ROOTFS_TAR=""
if [ -x /bin/busybox ]; then
  mkdir -p "$W/rootfs/bin" && cp /bin/busybox "$W/rootfs/bin/busybox" && ln -s busybox "$W/rootfs/bin/sh" &&
    tar -C "$W/rootfs" -cf "$W/rootfs.tar" . && ROOTFS_TAR=$W/rootfs.tar
fi
# use ENGINE: the docker CLI's everyday image calls, then no image left
use() {
  local e=$1
  dk "$e" version && dk "$e" info && dk "$e" system df || return 1
  if [ -n "$ROOTFS_TAR" ]; then
    dk "$e" import "$ROOTFS_TAR" idle-bench:latest && dk "$e" images && dk "$e" image inspect idle-bench:latest &&
      dk "$e" history idle-bench:latest && dk "$e" rmi idle-bench:latest || return 1
  fi
  dk "$e" images -a && dk "$e" image prune -a -f
}

declare -A RSS PSS URSS UPSS
# measure ENGINE: idle sample, use, idle sample
measure() {
  local e=$1
  sleep "$SETTLE"
  kill -0 "${PID[$e]}" 2>/dev/null || { echo "$e exited:"; tail -20 "$W/$e.log"; return 1; }
  read -r RSS[$e] PSS[$e] < <(mem $(tree "${PID[$e]}"))
  if [ -x "$DOCKER" ] && use "$e"; then
    sleep "$SETTLE"
    read -r URSS[$e] UPSS[$e] < <(mem $(tree "${PID[$e]}"))
  else
    echo "!! $e: the docker CLI calls failed or there is no CLI at $DOCKER (see $W/$e.cli.log):"
    tail -5 "$W/$e.cli.log" 2>/dev/null
  fi
  printf '%-22s : idle rss %s kB, pss %s kB; after use rss %s kB, pss %s kB (%s processes)\n' \
    "$2" "${RSS[$e]}" "${PSS[$e]}" "${URSS[$e]:-n/a}" "${UPSS[$e]:-n/a}" "$(tree "${PID[$e]}" | wc -l)"
}

mkdir -p "$W/berth" "$W/dockerd" "$W/docker-config"
echo '{}' >"$W/berth/daemon.json"
echo '{}' >"$W/dockerd/daemon.json"
SOCK[berth]=$W/berth/berth.sock
"$BERTHD" --data-root "$W/berth/root" --exec-root "$W/berth/exec" -H "unix://${SOCK[berth]}" \
  --pidfile "$W/berth/berthd.pid" --config-file "$W/berth/daemon.json" --bridge none >"$W/berth.log" 2>&1 </dev/null &
PID[berth]=$!
wait_ping berth 30 || { echo "berthd did not start:"; tail -20 "$W/berth.log"; exit 1; }
measure berth berthd || exit 1

if [ -x "$DOCKERD" ]; then
  SOCK[dockerd]=$W/dockerd/docker.sock
  "$DOCKERD" --data-root "$W/dockerd/root" --exec-root "$W/dockerd/exec" -H "unix://${SOCK[dockerd]}" \
    --pidfile "$W/dockerd/dockerd.pid" --config-file "$W/dockerd/daemon.json" \
    --iptables=false --ip-masq=false --bridge=none >"$W/dockerd.log" 2>&1 </dev/null &
  PID[dockerd]=$!
  if wait_ping dockerd 60; then
    measure dockerd "dockerd + containerd" || true
  else
    echo "dockerd did not start:"; tail -5 "$W/dockerd.log"
  fi
else
  echo "dockerd: not installed at $DOCKERD (apt-get install docker.io); berthd only"
fi

kb() { [ -n "${1:-}" ] && echo "${1}kB" || echo n/a; }
ratio=n/a
[ -n "${RSS[dockerd]:-}" ] && ratio=$(awk -v a="${RSS[berth]}" -v b="${RSS[dockerd]}" 'BEGIN{printf "%.2f", a/b}')
echo "daemon-idle  berthd=$(kb "${RSS[berth]}") (after use $(kb "${URSS[berth]:-}"))" \
  "dockerd+containerd=$(kb "${RSS[dockerd]:-}") (after use $(kb "${URSS[dockerd]:-}"))  berthd/docker=$ratio"
worst=${URSS[berth]:-${RSS[berth]}}
[ "${RSS[berth]}" -gt "$worst" ] && worst=${RSS[berth]}
if [ "$worst" -le "$GOAL_KB" ]; then verdict=met; else verdict="NOT met"; fi
echo "goal         berthd idle RSS <= 30 MB ($GOAL_KB kB): $verdict (largest sample ${worst} kB)"
exit 0
