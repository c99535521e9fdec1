#!/bin/bash
# network.sh — the networking figures of issue 5, berthd beside dockerd 20.10, both started here
# on private roots, sockets and bridges, in one run:
#
#   1 bridge   `run --rm bbox true` on the default bridge and with --network none, serial and
#              interleaved: what the bridge adds (median of bridge minus median of none), for the
#              berth CLI on berthd and the docker CLI on dockerd
#   2 publish  `run -d -p PORT:80 bbox httpd` until the first HTTP 200 from the host (curl in a
#              loop, 10 ms apart), then rm -f (untimed)
#   3 tcp      TCP throughput from a container to the host over the default bridge (a Go sender,
#              test/testinit tcp-send, to tcp-sink on the bridge's address), against the same
#              pair over a bare veth pair into a network namespace made here, and from a container
#              over dockerd's bridge; TCP_RUNS of each, one of each in turn. Sender and sink are
#              single-threaded (GOMAXPROCS=1, as iperf3): on 2 cores the Go runtime's extra
#              threads spread one path's runs by +-20 %. Also the machine's busy CPU time per GB
#              while the bytes flow (the sink reads /proc/stat), the steadier figure of what
#              each path costs.
#   4 range    `run -d -p 30000-30999:30000-30999 bbox sleep 300` beside a running container
#              without ports: extra processes, extra engine memory (PSS of the engine's
#              processes, after minus before) and berth's nft rules
#
# Usage: bench/network.sh     (as root; a few minutes)
#
# dockerd runs with --iptables=false on a bridge this script makes (so that nothing of the host's
# iptables changes): its published ports go through docker-proxy, which is what dockerd's
# userland proxy does for connections from the host anyway. berthd gets its own bridge name,
# subnet and nftables table. Everything is removed on exit.
#
# Environment: N=15 (runs per client in 1 and 2), TCP_BYTES=3000000000 (per run), TCP_RUNS=11,
#   RANGE=1000, WORK=/var/tmp/berth-bench, BERTHD, BERTH (the repo's bin/ by default),
#   DOCKER=/usr/local/bin/docker, DOCKERD=/usr/sbin/dockerd
set -u -o pipefail
export LC_ALL=C
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-" 2>/dev/null
done
unset fd DOCKER_HOST DOCKER_CONTEXT BERTH_HOST

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
N=${N:-15}
TCP_BYTES=${TCP_BYTES:-3000000000}
TCP_RUNS=${TCP_RUNS:-11}
RANGE=${RANGE:-1000}
WORK=${WORK:-/var/tmp/berth-bench}
BERTHD=${BERTHD:-$REPO/bin/berthd}
BERTH=${BERTH:-$REPO/bin/berth}
DOCKER=${DOCKER:-/usr/local/bin/docker}
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
PEERS_ROOTFS=${PEERS_ROOTFS:-/var/tmp/peers/bundle/rootfs}

BENCH_NAME=network.sh
. "$SCRIPT_DIR/lib.sh"
[ "$(id -u)" = 0 ] || die "needs root: the engines make bridges, namespaces and rules"
for t in curl ip nft go; do command -v $t >/dev/null || die "needs $t"; done
[ -x "$BERTHD" ] || make -C "$REPO" build >/dev/null || die "make build failed"
mkdir -p "$WORK/results"
LOG=$WORK/results/network-$(date +%Y%m%d-%H%M%S).log
exec > >(trap '' INT TERM; exec tee "$LOG") 2>&1

RUN=$(mktemp -d /var/tmp/berth-net.XXXXXX) || die mktemp
TAG=$$
BR_BERTH=bnb$TAG DOCKER_BR=bnd$TAG TABLE=berth-bench-$TAG NS=bnbench$TAG
VETH_H=bnvh$TAG VETH_C=bnvc$TAG
declare -A PID SOCK
cleanup() {
  trap - EXIT INT TERM
  say "clean-up"
  for e in berth dockerd; do
    [ -n "${PID[$e]:-}" ] || continue
    ids=$("$DOCKER" -H "unix://${SOCK[$e]}" ps -aq 2>/dev/null)
    [ -z "$ids" ] || "$DOCKER" -H "unix://${SOCK[$e]}" rm -f $ids >/dev/null 2>&1
    stop_pid "${PID[$e]}"
  done
  pkill -f "$RUN/" 2>/dev/null
  nft delete table inet "$TABLE" 2>/dev/null
  for l in "$BR_BERTH" "$DOCKER_BR" "$VETH_H"; do ip link del "$l" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  for m in $(awk -v r="$RUN" 'index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m"; done
  rm -rf "$RUN"
  for c in /sys/fs/cgroup/*/berth-bench-$TAG; do find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  left=$(ip -br link | grep -E "^(bnb|bnd|bnv)$TAG" ; nft list tables 2>/dev/null | grep "$TABLE")
  [ -z "$left" ] && echo "   no engine, bridge, namespace, rule or mount left" || echo "!! left: $left"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ms() { echo $(( (${EPOCHREALTIME/./} - $1) / 1000 )); }

say "run directory $RUN; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); berth at $(git -C "$REPO" rev-parse --short HEAD)"
mkdir -p "$RUN/bin" "$RUN/berthd" "$RUN/dockerd"
cp "$BERTHD" "$(dirname "$BERTHD")/berth-runtime" "$BERTH" "$RUN/bin/" || die "copy binaries"
CGO_ENABLED=0 go build -C "$REPO" -o "$RUN/bin/testinit" ./test/testinit || die "build testinit"
SOCK[berth]=$RUN/berthd/s.sock SOCK[dockerd]=$RUN/dockerd/s.sock
spawn "$RUN/bin/berthd" --data-root "$RUN/berthd/root" --exec-root "$RUN/berthd/exec" -H "unix://${SOCK[berth]}" \
  --pidfile "$RUN/berthd/pid" --config-file /dev/null --bridge "$BR_BERTH" --bip 10.241.$((TAG % 250)).1/24 \
  --firewall-table "$TABLE" --cgroup-parent "/berth-bench-$TAG" >"$RUN/berthd/log" 2>&1 </dev/null
PID[berth]=$!
wait_ping berth 60 || { tail "$RUN/berthd/log"; die "berthd did not start"; }
ip link add "$DOCKER_BR" type bridge && ip addr add 10.242.$((TAG % 250)).1/24 dev "$DOCKER_BR" && ip link set "$DOCKER_BR" up ||
  die "bridge for dockerd"
echo '{}' >"$RUN/dockerd/daemon.json"
spawn "$DOCKERD" --data-root "$RUN/dockerd/root" --exec-root "$RUN/dockerd/exec" -H "unix://${SOCK[dockerd]}" \
  --pidfile "$RUN/dockerd/pid" --config-file "$RUN/dockerd/daemon.json" -b "$DOCKER_BR" --iptables=false --ip-masq=false \
  >"$RUN/dockerd/log" 2>&1 </dev/null
PID[dockerd]=$!
wait_ping dockerd 60 || { tail "$RUN/dockerd/log"; die "dockerd did not start"; }
BB=("$RUN/bin/berth" -H "unix://${SOCK[berth]}")
DD=("$DOCKER" -H "unix://${SOCK[dockerd]}")

ROOTFS=$RUN/rootfs
cp -a "$PEERS_ROOTFS" "$ROOTFS" 2>/dev/null || { mkdir -p "$ROOTFS/bin" "$ROOTFS/etc"; cp /bin/busybox "$ROOTFS/bin/";
  for a in $(/bin/busybox --list); do ln -sf busybox "$ROOTFS/bin/$a"; done; echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOTFS/etc/passwd"; }
cp "$RUN/bin/testinit" "$ROOTFS/testinit"
tar -C "$ROOTFS" --numeric-owner -cf "$RUN/rootfs.tar" . || die tar
"${BB[@]}" import -c 'CMD ["sh"]' "$RUN/rootfs.tar" bbox >/dev/null && "${DD[@]}" import -c 'CMD ["sh"]' "$RUN/rootfs.tar" bbox >/dev/null ||
  die "image import"
say "versions: docker CLI $("$DOCKER" --version | awk '{print $3}' | tr -d ,), dockerd $("${DD[@]}" version -f '{{.Server.Version}}')"

# 1 ----------------------------------------------------------------------------------------------
say "1 run --rm bbox true, bridge vs --network none: $N runs each, interleaved (ms)"
declare -A T
for i in $(seq $((N + 2))); do
  for k in bb:bridge bb:none dd:bridge dd:none; do
    c=${k%%:*} net=${k#*:}
    [ $c = bb ] && cmd=("${BB[@]}") || cmd=("${DD[@]}")
    t0=${EPOCHREALTIME/./}
    "${cmd[@]}" run --rm --network "$net" bbox true >/dev/null 2>"$RUN/err" || { echo "!! $k failed: $(tail -1 "$RUN/err")"; continue; }
    [ $i -gt 2 ] && T[$k]+="$(ms $t0) "
  done
done
for c in bb dd; do
  b=$(median ${T[$c:bridge]}) n=$(median ${T[$c:none]})
  name=$([ $c = bb ] && echo "berth CLI -> berthd" || echo "docker CLI -> dockerd")
  printf '   %-22s bridge %6s ms   none %6s ms   the bridge adds %s ms\n' "$name" "$b" "$n" "$(awk -v a="$b" -v b="$n" 'BEGIN{print a-b}')"
done
echo "   goal: berth's bridge adds at most 15 ms"

# 2 ----------------------------------------------------------------------------------------------
say "2 run -d -p PORT:80 bbox httpd until the first HTTP 200 from the host: $N runs each (ms)"
port=$((20000 + TAG % 5000))
for i in $(seq $((N + 1))); do
  for c in bb dd; do
    [ $c = bb ] && cmd=("${BB[@]}") || cmd=("${DD[@]}")
    t0=${EPOCHREALTIME/./}
    id=$("${cmd[@]}" run -d -p "$port:80" bbox httpd -f -p 80 -h /etc 2>"$RUN/err") || { echo "!! $c: $(tail -1 "$RUN/err")"; continue; }
    ok=0
    for _ in $(seq 500); do curl -sf -o /dev/null "http://127.0.0.1:$port/passwd" && { ok=1; break; }; sleep 0.01; done
    t=$(ms $t0)
    [ $ok = 1 ] && [ $i -gt 1 ] && T[pub:$c]+="$t "
    [ $ok = 1 ] || echo "!! $c: no HTTP 200 within 5 s"
    "${cmd[@]}" rm -f "$id" >/dev/null
  done
done
printf '   berth CLI -> berthd    median %s ms   (goal <= 150 ms)\n   docker CLI -> dockerd  median %s ms\n' "$(median ${T[pub:bb]})" "$(median ${T[pub:dd]})"

# 3 ----------------------------------------------------------------------------------------------
say "3 TCP throughput, $TCP_BYTES bytes per run, $TCP_RUNS runs each, interleaved (MB/s)"
gw=$("${BB[@]}" network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' bridge)
ip netns add "$NS" && ip link add "$VETH_H" type veth peer name "$VETH_C" && ip link set "$VETH_C" netns "$NS" &&
  ip addr add 10.243.$((TAG % 250)).1/24 dev "$VETH_H" && ip link set "$VETH_H" up &&
  ip -n "$NS" addr add 10.243.$((TAG % 250)).2/24 dev "$VETH_C" && ip -n "$NS" link set "$VETH_C" up && ip -n "$NS" link set lo up ||
  die "raw veth pair"
# tcp_run KIND ADDR SENDER...: one run, the sink on the host at ADDR, the sender given; records
# MB/s and the machine's busy CPU ms per GB while the bytes flowed (the sink's figure, so not
# the cost of starting the sender's container).
tcp_run() {
  local kind=$1 addr=$2 sink
  shift 2
  GOMAXPROCS=1 "$RUN/bin/testinit" tcp-sink "$addr" >"$RUN/sink" 2>/dev/null &
  sink=$!
  sleep 0.2
  GOMAXPROCS=1 "$@" >/dev/null
  wait $sink
  T[tcp:$kind]+="$(awk '{print $3}' "$RUN/sink") "
  T[cpu:$kind]+="$(awk -v n="$TCP_BYTES" '{print int($5 * 1e9 / n)}' "$RUN/sink") "
}
# One of each in turn, so that a drift of the machine lands on all of them.
port=19$((TAG % 100 + 100))
for i in $(seq "$TCP_RUNS"); do
  tcp_run berth "$gw:$port" "${BB[@]}" run --rm -e GOMAXPROCS=1 bbox /testinit tcp-send "$gw:$port" "$TCP_BYTES"
  tcp_run veth "10.243.$((TAG % 250)).1:$port" ip netns exec "$NS" "$RUN/bin/testinit" tcp-send "10.243.$((TAG % 250)).1:$port" "$TCP_BYTES"
  tcp_run dockerd "10.242.$((TAG % 250)).1:$port" "${DD[@]}" run --rm -e GOMAXPROCS=1 bbox /testinit tcp-send "10.242.$((TAG % 250)).1:$port" "$TCP_BYTES"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
b=$(median ${T[tcp:berth]}) v=$(median ${T[tcp:veth]}) dk=$(median ${T[tcp:dockerd]})
cb=$(median ${T[cpu:berth]}) cv=$(median ${T[cpu:veth]}) cdk=$(median ${T[cpu:dockerd]})
row() { printf '   %-40s %5s MB/s  %4s CPU ms/GB   (runs: %s)\n' "$@"; }
row "container -> host over berth's bridge" "$b" "$cb" "${T[tcp:berth]}"
row "bare veth pair" "$v" "$cv" "${T[tcp:veth]}"
row "container -> host over dockerd's bridge" "$dk" "$cdk" "${T[tcp:dockerd]}"
printf '   throughput ratio %s (goal >= 0.90; dockerd %s); CPU per GB %s of the veth pair'"'"'s (dockerd %s)\n' \
  "$(ratio "$b" "$v")" "$(ratio "$dk" "$v")" "$(ratio "$cb" "$cv")" "$(ratio "$cdk" "$cv")"

# 4 ----------------------------------------------------------------------------------------------
say "4 a published range of $RANGE ports"
pss() { local s=0 p; for p in "$@"; do s=$((s + $(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0))); done; echo $s; }
engine_pids() { # the engine's daemon(s) and every process whose command line names the run dir's part
  case $1 in
  berth) pgrep -f "$RUN/bin/berth" ;;
  dockerd) echo "${PID[dockerd]}"; pgrep -f "$RUN/dockerd" | grep -v "^${PID[dockerd]}$"; pgrep -x containerd; pgrep -f docker-proxy ;;
  esac | sort -u
}
lo=30000 hi=$((30000 + RANGE - 1))
for e in berth dockerd; do
  [ $e = berth ] && cmd=("${BB[@]}") || cmd=("${DD[@]}")
  # The baseline has one container running without ports, so that the figure is what the
  # ports cost (plus one more container's share of its engine), not a first container's
  # shim: berth's shims serve several containers each.
  "${cmd[@]}" run -d --name range-base bbox sleep 300 >/dev/null 2>"$RUN/err" || { echo "!! $e: $(tail -1 "$RUN/err")"; continue; }
  sleep 3
  n0=$(engine_pids $e | wc -l) m0=$(pss $(engine_pids $e))
  t0=${EPOCHREALTIME/./}
  "${cmd[@]}" run -d --name range -p "$lo-$hi:$lo-$hi" bbox sleep 300 >/dev/null 2>"$RUN/err" || { echo "!! $e: $(tail -1 "$RUN/err")"; continue; }
  t=$(ms $t0)
  sleep 3
  n1=$(engine_pids $e | wc -l) m1=$(pss $(engine_pids $e))
  printf '   %-8s run -d with %d ports: %5d ms; engine processes %d -> %d (+%d), engine PSS +%d kB\n' \
    $e "$RANGE" "$t" "$n0" "$n1" $((n1 - n0)) $((m1 - m0))
  [ $e = berth ] && echo "            berth's nftables table: $(nft list table inet "$TABLE" | grep -c -E '^\s+(dnat|meta|ip|ip6|oifname|iifname|fib|ct|masquerade)') rules, $(nft list map inet "$TABLE" ports_v4 | grep -o ' : ' | wc -l) port elements"
  "${cmd[@]}" rm -f range range-base >/dev/null
done
echo "   goal: no extra process, under 5 MB extra memory"
