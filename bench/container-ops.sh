#!/bin/bash
# container-ops.sh — the container speed and memory figures of issue 4, berthd beside dockerd
# (and podman, when installed), all started here on private roots and sockets, in one run:
#
#   1 run    `run --rm --network none bbox true`, serial: the docker CLI against berthd, berth's
#            own CLI against berthd, the docker CLI against dockerd (and podman)
#   2 exec   `exec C true` into a running container, the same clients
#   3 burst  BURST containers `run -d --network none bbox sleep 300`, PAR at a time (xargs -P),
#            wall time until every CLI returned; then all removed (untimed)
#   4 mem    berthd's idle RSS after the image import; engine memory per running container:
#            the PSS (/proc/PID/smaps_rollup) of berthd + its shims ("berth-runtime shim ..."), of
#            dockerd + containerd + containerd-shim-runc-v2 (and podman's conmons), with K
#            containers running minus with none (after one container was run and removed, so
#            that the first start's one-time cost is not spread over the K, and once no shim
#            runs: every shim's whole cost counts), divided by K
#   5 logs   a container printing LOG_MB MB (lines of 100 bytes: `yes 000… | head -n LINES`),
#            attached (`run`, output to /dev/null): its time minus the same generator run alone,
#            outside any container (chroot into the image's root file system) = the overhead;
#            then `logs C >/dev/null`; and the bytes of the log file(s) on disk per byte kept.
#            berthd's log container runs three ways: its default log config (json-file, bounded,
#            rotated files gzipped), with --log-opt max-size=1g (the whole output kept, as
#            dockerd's unbounded json-file keeps it) and with --log-driver local (the compact
#            format, also whole); the goals are judged on the default. Bytes on disk per byte
#            kept are judged on a second log of the same size in lines like real output's
#            (timestamps, paths, numbers: `seq | sed`): lines of zeros compress a
#            hundredfold, real output four- to tenfold
#
# Usage: bench/container-ops.sh            (as root; ~5-10 minutes on 2 cores with the defaults)
#        flock /tmp/berth-priv.lock bench/container-ops.sh   (beside other privileged work; no
#        process started here keeps the lock's descriptor)
#
# Both engines run without a default bridge (berthd --bridge none, dockerd --bridge=none): every
# container here is --network none; bench/network.sh measures the bridge.
#
# Runs are interleaved (one of each client in turn, the order rotated every round) so that a
# drift of the machine lands on all of them. Medians in ms; ratios berth/dockerd (below 1 is
# berth faster) and whether issue 4's goal is met.
#
# Environment:
#   N=20           counted runs of `run --rm` and `exec` per client (after WARMUP=2 uncounted)
#   BURST=50 PAR=8 BURST_REPS=3   containers per burst, started at a time, bursts per client
#   K=20 SETTLE=5  running containers for the memory figure; seconds idle before a sample
#   LOG_MB=100 LOG_REPS=3          MB printed by the log container (1e6 bytes); runs per engine
#   PODMAN=auto    measure podman too (1, 0, auto: when /usr/bin/podman exists); items 1, 2, 4
#   WORK=/var/tmp/berth-bench      results/container-ops-*.log
#   BERTHD, BERTH  default the repo's bin/berthd and bin/berth (built with `make build` if missing;
#                  berthd finds berth-runtime beside it)
#   DOCKER=/usr/local/bin/docker   DOCKERD=/usr/sbin/dockerd   OP_TIMEOUT=600 (s per command)
#
# Exit status: 0 when every berth operation succeeded (goals met or not), 1 when one failed (its
# figure is n/a, the command and its error are printed), 2 on a setup error. Everything started
# here — containers, both daemons (dockerd's containerd and shims), podman's containers and
# mounts — is stopped and removed on exit, also on failure or Ctrl-C; leftovers are reported.
set -u -o pipefail
export LC_ALL=C

# No descriptor but stdio reaches anything started here: under `flock LOCK cmd` the lock's
# descriptor is inherited, and a daemon (or a shim that outlives it) holding it would keep the
# lock after this script ended. Descriptor 255 is bash reading this script.
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-" 2>/dev/null
done
unset fd DOCKER_HOST DOCKER_CONTEXT BERTH_HOST CONTAINER_HOST

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
N=${N:-20}
WARMUP=${WARMUP:-2}
BURST=${BURST:-50}
PAR=${PAR:-8}
BURST_REPS=${BURST_REPS:-3}
K=${K:-20}
SETTLE=${SETTLE:-5}
LOG_MB=${LOG_MB:-100}
LOG_REPS=${LOG_REPS:-3}
PODMAN=${PODMAN:-auto}
WORK=${WORK:-/var/tmp/berth-bench}
BERTHD=${BERTHD:-$REPO/bin/berthd}
BERTH=${BERTH:-$REPO/bin/berth}
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
OP_TIMEOUT=${OP_TIMEOUT:-600}
PEERS_ROOTFS=${PEERS_ROOTFS:-/var/tmp/peers/bundle/rootfs}
if [ -z "${DOCKER:-}" ]; then
  DOCKER=/usr/local/bin/docker
  [ -x "$DOCKER" ] || DOCKER=$(command -v docker || echo /usr/local/bin/docker)
fi

BENCH_NAME=container-ops.sh
. "$SCRIPT_DIR/lib.sh"

[ "$(id -u)" = 0 ] || die "needs root: the engines make namespaces, mounts and cgroups"
for v in N BURST PAR BURST_REPS K LOG_MB LOG_REPS OP_TIMEOUT; do
  case "${!v}" in '' | *[!0-9]* | 0) die "$v must be a positive whole number, got '${!v}'" ;; esac
done
case "$WARMUP$SETTLE" in *[!0-9]*) die "WARMUP and SETTLE must be whole numbers" ;; esac
[ -x "$DOCKER" ] || die "no docker CLI at $DOCKER (set DOCKER=)"
for t in curl tar timeout xargs chroot; do command -v $t >/dev/null || die "needs $t"; done
if { [ ! -x "$BERTHD" ] || [ ! -x "$BERTH" ]; } && [ "$BERTHD" = "$REPO/bin/berthd" ]; then
  say "make build"
  make -C "$REPO" build >/dev/null || die "make build failed"
fi
[ -x "$BERTHD" ] || die "no berthd at $BERTHD"
[ -x "$BERTH" ] || die "no berth CLI at $BERTH"
[ -x "$(dirname "$BERTHD")/berth-runtime" ] || die "no berth-runtime beside $BERTHD"
case $PODMAN in
auto) PODMAN=0; [ -x /usr/bin/podman ] && [ -x /usr/bin/conmon ] && PODMAN=1 ;;
0 | 1) ;;
*) die "PODMAN must be 1, 0 or auto" ;;
esac

mkdir -p "$WORK/results" || die "mkdir $WORK/results"
STAMP=$(date +%Y%m%d-%H%M%S)
LOG=$WORK/results/container-ops-$STAMP.log
# tee ignores Ctrl-C, so that the clean-up's report still reaches the terminal and the log
exec > >(trap '' INT TERM; exec tee "$LOG") 2>&1

RUN=$(mktemp -d /var/tmp/berth-ops.XXXXXX) || die "mktemp"
mkdir -p "$RUN/docker-config" && echo '{}' >"$RUN/docker-config/config.json"
export DOCKER_CONFIG=$RUN/docker-config   # podman reads its auth from there too

# ---------------------------------------------------------------------------------------------
# Processes and clean-up.

declare -A PID SOCK
# procs_under DIR: processes whose command line names DIR, or whose root or working directory is
# under it (the engines, their shims and monitors, and the containers' own processes)
procs_under() {
  local d p c
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
    c=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") || continue
    if [[ $c == *"$1"* ]] || [[ $(readlink "$d/root" 2>/dev/null) == "$1"/* ]] ||
      [[ $(readlink "$d/cwd" 2>/dev/null) == "$1"/* ]]; then
      echo "$p $c"
    fi
  done
}
# cgroup dirs of the engines, to report new ones left behind
# berthd's containers go under a cgroup parent of this run's own, removed at the end
CG_PARENT=/berth-bench-$$
cgroups_now() { ls -d /sys/fs/cgroup/*$CG_PARENT/*/ /sys/fs/cgroup/*/docker/*/ /sys/fs/cgroup/*/libpod_parent/*/ 2>/dev/null | sort; }
CG_BEFORE=$(cgroups_now)

cleanup() {
  local e ids left p m
  trap - EXIT INT TERM
  echo
  say "clean-up"
  for e in berth dockerd; do
    [ -n "${PID[$e]:-}" ] && kill -0 "${PID[$e]}" 2>/dev/null || continue
    ids=$(timeout 60 "$DOCKER" -H "unix://${SOCK[$e]}" ps -aq 2>/dev/null)
    [ -z "$ids" ] || timeout 300 "$DOCKER" -H "unix://${SOCK[$e]}" rm -f $ids >/dev/null 2>&1 ||
      echo "!! $e: rm -f of its containers failed"
    ids=$(timeout 60 "$DOCKER" -H "unix://${SOCK[$e]}" ps -aq 2>/dev/null)
    [ -z "$ids" ] || echo "!! $e: containers left after rm -f: $(echo $ids)"
  done
  if [ "$PODMAN" = 1 ] && [ -d "$RUN/podman" ]; then
    timeout 300 "${C_pp[@]}" rm -af -t 0 >/dev/null 2>&1 || echo "!! podman: rm -af failed"
  fi
  for e in "${!PID[@]}"; do stop_pid "${PID[$e]}"; done
  sleep 1
  left=$(procs_under "$RUN")
  if [ -n "$left" ]; then
    echo "!! processes left after the engines stopped (killed now):"
    echo "$left" | cut -c1-200 | sed 's/^/!!   /'
    for p in $(echo "$left" | cut -d' ' -f1); do kill -KILL "$p" 2>/dev/null; done
    sleep 1
  fi
  # podman's overlay driver keeps its home mounted on itself: expected, not a leak
  [ "$PODMAN" = 1 ] && umount "$RUN/podman/root/overlay" 2>/dev/null
  left=$(mounts_under "$RUN")
  if [ -n "$left" ]; then
    echo "!! mounts left under $RUN (unmounting them):"
    echo "$left" | sed 's/^/!!   /'
    for m in $left; do umount "$m" 2>/dev/null || umount -l "$m"; done
  fi
  rm -rf "$RUN"
  [ -z "$(mounts_under "$RUN")" ] || echo "!! mounts still left under $RUN"
  # podman makes libpod_parent/conmon for its monitors and keeps it: removed when this run made it
  if [ "$PODMAN" = 1 ] && ! echo "$CG_BEFORE" | grep -q '/libpod_parent/conmon/$'; then
    rmdir /sys/fs/cgroup/*/libpod_parent/conmon 2>/dev/null
  fi
  left=$(comm -13 <(echo "$CG_BEFORE") <(cgroups_now) | grep .)
  rmdir /sys/fs/cgroup/*$CG_PARENT 2>/dev/null
  if [ -n "$left" ]; then
    echo "!! cgroups made since the start and still there (this run's, or other work's on this machine):"
    echo "$left" | sed 's/^/!!   /'
  fi
  [ -n "$left" ] || [ -n "$(procs_under "$RUN")" ] || echo "   no container, process, mount or cgroup left"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# ---------------------------------------------------------------------------------------------
# The engines and the clients. C_<client> is the command line of one client against one engine:
#   bd  the docker CLI against berthd      bb  berth's CLI against berthd
#   dd  the docker CLI against dockerd     pp  podman on a private root (no daemon)

say "run directory $RUN; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
uptime | sed 's/^/   uptime:/'
mkdir -p "$RUN/berthd" "$RUN/dockerd" "$RUN/bin"
# copies of the binaries, so that a `make build` elsewhere during the run changes nothing here
cp "$BERTHD" "$RUN/bin/berthd" && cp "$(dirname "$BERTHD")/berth-runtime" "$RUN/bin/berth-runtime" &&
  cp "$BERTH" "$RUN/bin/berth" || die "copying the berth binaries"
say "berth binaries from $(dirname "$BERTHD") (built $(date -r "$BERTHD" '+%F %T'); repo at $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null))"
BERTHD=$RUN/bin/berthd BERTH=$RUN/bin/berth
echo '{}' >"$RUN/berthd/daemon.json"
echo '{}' >"$RUN/dockerd/daemon.json"
SOCK[berth]=$RUN/berthd/berth.sock
spawn "$BERTHD" --data-root "$RUN/berthd/root" --exec-root "$RUN/berthd/exec" -H "unix://${SOCK[berth]}" \
  --pidfile "$RUN/berthd/berthd.pid" --config-file "$RUN/berthd/daemon.json" \
  --bridge none --cgroup-parent "$CG_PARENT" >"$RUN/berthd/log" 2>&1 </dev/null
PID[berth]=$!
wait_ping berth 30 || { echo "!! berthd did not start:"; tail -20 "$RUN/berthd/log"; die "berthd"; }
[ -x "$DOCKERD" ] || die "no dockerd at $DOCKERD (apt-get install docker.io)"
SOCK[dockerd]=$RUN/dockerd/docker.sock
spawn "$DOCKERD" --data-root "$RUN/dockerd/root" --exec-root "$RUN/dockerd/exec" -H "unix://${SOCK[dockerd]}" \
  --pidfile "$RUN/dockerd/dockerd.pid" --config-file "$RUN/dockerd/daemon.json" \
  --bridge=none --iptables=false --ip-masq=false >"$RUN/dockerd/log" 2>&1 </dev/null
PID[dockerd]=$!
wait_ping dockerd 60 || { echo "!! dockerd did not start:"; tail -20 "$RUN/dockerd/log"; die "dockerd"; }

C_bd=("$DOCKER" -H "unix://${SOCK[berth]}")
C_bb=("$BERTH" -H "unix://${SOCK[berth]}")
C_dd=("$DOCKER" -H "unix://${SOCK[dockerd]}")
C_pp=(podman --root "$RUN/podman/root" --runroot "$RUN/podman/run" --tmpdir "$RUN/podman/tmp"
  --volumepath "$RUN/podman/volumes" --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
CLIENTS=(bd bb dd)
[ "$PODMAN" = 1 ] && CLIENTS+=(pp)
declare -A NAME=([bd]="docker CLI -> berthd" [bb]="berth CLI -> berthd" [dd]="docker CLI -> dockerd" [pp]="podman (runc)")
declare -A ENGINE=([bd]=berth [bb]=berth [dd]=dockerd [pp]=podman)
cli() { local c=$1; shift; local -n a=C_$c; "${a[@]}" "$@"; }

VERS="docker CLI $("$DOCKER" --version | awk '{print $3}' | tr -d ,)"
VERS+=", berthd $("$DOCKER" -H "unix://${SOCK[berth]}" version -f '{{.Server.Version}}' 2>/dev/null)"
VERS+=", dockerd $("$DOCKER" -H "unix://${SOCK[dockerd]}" version -f '{{.Server.Version}}' 2>/dev/null)"
[ "$PODMAN" = 1 ] && VERS+=", podman $(podman --version | awk '{print $3}')"
say "versions: $VERS"

# The image: the peers' busybox root file system when present, else one made from /bin/busybox
# (its applet links and an /etc/passwd, as scripts/demo.sh makes it); `import` into every engine.
if [ -x "$PEERS_ROOTFS/bin/busybox" ]; then
  ROOTFS=$PEERS_ROOTFS
else
  [ -x /bin/busybox ] || die "no /bin/busybox (apt-get install busybox-static)"
  ROOTFS=$RUN/rootfs
  mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/tmp" &&
    cp /bin/busybox "$ROOTFS/bin/busybox" || die "making a busybox root file system"
  for applet in $(/bin/busybox --list); do
    [ -e "$ROOTFS/bin/$applet" ] || ln -s busybox "$ROOTFS/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOTFS/etc/passwd"
fi
tar -C "$ROOTFS" --numeric-owner -cf "$RUN/rootfs.tar" . || die "tar of $ROOTFS"
say "image bbox:latest: busybox root file system from $ROOTFS ($(du -sh "$RUN/rootfs.tar" | cut -f1))"
for c in bd dd $([ "$PODMAN" = 1 ] && echo pp); do
  cli $c import -c 'CMD ["sh"]' "$RUN/rootfs.tar" bbox:latest >/dev/null 2>"$RUN/import.err" ||
    { cat "$RUN/import.err"; die "import into ${ENGINE[$c]} failed"; }
done

# ---------------------------------------------------------------------------------------------
# Timing.

declare -A T FAILED      # T[item/client] = the run times in ms, space separated
BERTH_FAILED=0
# fail ITEM CLIENT RC ERRFILE CMD...: records and prints a failed command and its error
fail() {
  local item=$1 c=$2 rc=$3 err=$4; shift 4
  FAILED[$item/$c]=1
  [ "${ENGINE[$c]}" != berth ] || BERTH_FAILED=1
  echo "!! $item, ${NAME[$c]}: FAILED (exit $rc): $*"
  tail -5 "$err" | sed 's/^/!!    /'
}
# timed ITEM CLIENT ARG...: one run of the client's ARG (stdout to /dev/null), its time in ms
# appended to T[ITEM/CLIENT] unless RECORD=0; returns its exit status. Bash's clock: no fork.
timed() {
  local item=$1 c=$2 t0 t1 rc; shift 2
  local -n a=C_$c
  t0=${EPOCHREALTIME/./}
  timeout "$OP_TIMEOUT" "${a[@]}" "$@" >/dev/null 2>"$RUN/err"; rc=$?
  t1=${EPOCHREALTIME/./}
  if [ $rc != 0 ]; then fail "$item" "$c" $rc "$RUN/err" "${a[*]} $*"; return $rc; fi
  [ "${RECORD:-1}" = 0 ] || T[$item/$c]+="$(((t1 - t0 + 500) / 1000)) "
}
med() { [ -z "${FAILED[$1]:-}" ] && [ -n "${T[$1]:-}" ] && median "${T[$1]}"; }
# rotated I LIST...: LIST rotated left by I (the order of round I)
rotated() { local i=$1; shift; local a=("$@") n=$#; for ((j = 0; j < n; j++)); do echo "${a[(i + j) % n]}"; done; }
report() { # report ITEM CLIENT...
  local item=$1 c m; shift
  for c in "$@"; do
    m=$(med "$item/$c")
    if [ -n "$m" ]; then
      printf '   %-34s median %7d ms   runs: %s\n' "${NAME[$c]}" "$m" "${T[$item/$c]}"
    else
      printf '   %-34s n/a (failed)\n' "${NAME[$c]}"
    fi
  done
}
ratio() { # ratio A B: A/B with 2 decimals, or n/a (RAW=1: unrounded, for the verdicts)
  [ -n "${1:-}" ] && [ -n "${2:-}" ] && [ "$2" != 0 ] &&
    awk -v a="$1" -v b="$2" -v f="$([ "${RAW:-0}" = 1 ] && echo %.6f || echo %.2f)" 'BEGIN {printf f, a / b}' || echo n/a
}
verdict() { # verdict VALUE GOAL: met / NOT met / n/a (VALUE <= GOAL)
  [ -n "${1:-}" ] && [ "$1" != n/a ] || { echo "n/a"; return; }
  awk -v v="$1" -v g="$2" 'BEGIN {print (v <= g) ? "met" : "NOT met"}'
}

# ---------------------------------------------------------------------------------------------
# Memory: PSS and RSS of an engine's processes.

# engine_pids ENGINE [daemon|shims]: berthd and its shims ("berth-runtime shim ID DIR");
# dockerd, its containerd and the containerd-shim-runc-v2s; podman's conmons (podman has no
# daemon) — each found by its command line naming its run dir. Both kinds unless one is named.
engine_pids() {
  local list
  case $1 in
  berth) list=$(procs_under "$RUN/berthd" | awk -v d="${PID[berth]}" '$1 == d {print $1, "daemon"} $1 != d && $3 == "shim" {print $1, "shims"}') ;;
  dockerd) list=$(procs_under "$RUN/dockerd" | awk '$2 ~ /(^|\/)(dockerd|containerd)$/ {print $1, "daemon"} $2 ~ /(^|\/)containerd-shim-runc-v2$/ {print $1, "shims"}') ;;
  podman) list=$(procs_under "$RUN/podman" | awk '$2 ~ /(^|\/)conmon$/ {print $1, "shims"}') ;;
  esac
  echo "$list" | awk -v k="${2:-}" 'NF && (k == "" || $2 == k) {print $1}'
}
# mem PID...: "N RSS_kB PSS_kB" summed over the processes
mem() {
  local rss=0 pss=0 p r s n=0
  for p in "$@"; do
    r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
    [ -n "$r" ] || continue
    rss=$((rss + r)) pss=$((pss + ${s:-0})) n=$((n + 1))
  done
  echo "$n $rss $pss"
}

# ---------------------------------------------------------------------------------------------
# 4 (first: the idle figure is the daemon right after the import) — memory.

say "4 memory: idle ${SETTLE} s after the image import, then with $K running 'sleep 300' containers"
MEM_ENGINES=(berth dockerd)
[ "$PODMAN" = 1 ] && MEM_ENGINES+=(podman)
declare -A MEMC=([berth]=bd [dockerd]=dd [podman]=pp) IDLE PERC
sleep "$SETTLE"
read -r _ IDLE_RSS IDLE_PSS < <(mem "${PID[berth]}")
read -r _ D_IDLE_RSS D_IDLE_PSS < <(mem $(engine_pids dockerd))
printf '   berthd idle:               rss %6d kB  pss %6d kB\n' "$IDLE_RSS" "$IDLE_PSS"
printf '   dockerd+containerd idle:   rss %6d kB  pss %6d kB\n' "$D_IDLE_RSS" "$D_IDLE_PSS"
for e in "${MEM_ENGINES[@]}"; do
  c=${MEMC[$e]}
  # Warm-up: one container started and removed first, so that the baseline engine has
  # already run what a container start runs (its binary's pages mapped, its caches
  # filled): the figure is what each more container costs, not the first one ever.
  cli "$c" run -d --network none --name ops-mem-warm bbox sleep 300 >/dev/null 2>&1
  cli "$c" rm -f $([ "$c" = pp ] && echo -t 0) ops-mem-warm >/dev/null 2>&1
  sleep "$SETTLE"
  # ...but no shim in the baseline: berth's shims serve several containers and stay a
  # while once empty (shim.DefaultIdle, 10 s), and a shim left in the baseline would
  # hide its own cost from the figure. Every shim running later is the K containers'.
  for i in $(seq 300); do
    read -r ns _ _ < <(mem $(engine_pids "$e" shims))
    [ "$ns" = 0 ] && break
    sleep 0.1
  done
  [ "$ns" = 0 ] || echo "!! $e: $ns shim(s) still running 30 s after the warm-up container's removal"
  read -r n0 r0 p0 < <(mem $(engine_pids "$e"))
  read -r _ dr0 dp0 < <(mem $(engine_pids "$e" daemon))
  ok=1
  for i in $(seq "$K"); do
    RECORD=0 timed mem "$c" run -d --network none --name "ops-mem-$i" bbox sleep 300 || { ok=0; break; }
  done
  if [ $ok = 1 ]; then
    sleep "$SETTLE"
    # Sampled before anything else asks the engine: the baseline was sampled after
    # SETTLE s of quiet too (a request just before would count its garbage).
    read -r n1 r1 p1 < <(mem $(engine_pids "$e"))
    read -r _ dr1 dp1 < <(mem $(engine_pids "$e" daemon))
    read -r ns sr sp < <(mem $(engine_pids "$e" shims))
    up=$(cli "$c" ps -q --filter name=ops-mem- 2>/dev/null | wc -l)
    PERC[$e]=$(((p1 - p0) / K))
    printf '   %-8s %2d running: %3d processes, rss %7d kB (+%d), pss %7d kB (+%d): per container %d kB PSS, %d kB RSS\n' \
      "$e" "$up" "$n1" "$r1" $((r1 - r0)) "$p1" $((p1 - p0)) "${PERC[$e]}" $(((r1 - r0) / K))
    printf '            of which the daemon(s) +%d kB PSS (+%d kB RSS), %d shims %d kB PSS (%d kB RSS; %d kB PSS each)\n' \
      $((dp1 - dp0)) $((dr1 - dr0)) "$ns" "$sp" "$sr" $((ns > 0 ? sp / ns : 0))
    [ "$up" = "$K" ] || echo "!! $e: $up of $K containers running"
  fi
  ids=$(cli "$c" ps -aq --filter name=ops-mem- 2>/dev/null)
  [ -z "$ids" ] || cli "$c" rm -f $([ "$c" = pp ] && echo -t 0) $ids >/dev/null 2>&1
done

# ---------------------------------------------------------------------------------------------
# 1 — run --rm, serial.

say "1 run --rm --network none bbox true: $WARMUP warm-up + $N runs per client, interleaved"
for i in $(seq $((WARMUP + N))); do
  for c in $(rotated "$i" "${CLIENTS[@]}"); do
    [ -z "${FAILED[run/$c]:-}" ] || continue
    RECORD=$([ "$i" -gt "$WARMUP" ] && echo 1 || echo 0) timed run "$c" run --rm --network none bbox true
  done
done
report run "${CLIENTS[@]}"

# ---------------------------------------------------------------------------------------------
# 2 — exec into a running container.

say "2 exec C true into a running 'sleep 300' container: $WARMUP warm-up + $N runs per client"
for c in bd dd $([ "$PODMAN" = 1 ] && echo pp); do
  RECORD=0 timed exec "$c" run -d --network none --name ops-exec bbox sleep 300 || FAILED[exec/$c]=1
done
FAILED[exec/bb]=${FAILED[exec/bd]:-}
for i in $(seq $((WARMUP + N))); do
  for c in $(rotated "$i" "${CLIENTS[@]}"); do
    [ -z "${FAILED[exec/$c]:-}" ] || continue
    RECORD=$([ "$i" -gt "$WARMUP" ] && echo 1 || echo 0) timed exec "$c" exec ops-exec true
  done
done
report exec "${CLIENTS[@]}"
for c in bd dd $([ "$PODMAN" = 1 ] && echo pp); do
  cli "$c" rm -f $([ "$c" = pp ] && echo -t 0) ops-exec >/dev/null 2>&1
done

# ---------------------------------------------------------------------------------------------
# 3 — a burst of BURST containers, PAR at a time.

BURST_CLIENTS=(bd bb dd)
say "3 $BURST containers 'run -d --network none bbox sleep 300', $PAR at a time: $BURST_REPS bursts per client"
for r in $(seq "$BURST_REPS"); do
  for c in $(rotated "$r" "${BURST_CLIENTS[@]}"); do
    [ -z "${FAILED[burst/$c]:-}" ] || continue
    # names unique to the burst, so that a container a failed removal left cannot spoil the next
    declare -n a=C_$c
    t0=${EPOCHREALTIME/./}
    seq 1 "$BURST" | timeout "$OP_TIMEOUT" xargs -P "$PAR" -I{} "${a[@]}" \
      run -d --network none --name "ops-burst-$r$c-{}" bbox sleep 300 >/dev/null 2>"$RUN/burst.err"
    rc=$?
    unset -n a
    t1=${EPOCHREALTIME/./}
    up=$(cli "$c" ps -q --filter "name=ops-burst-$r$c-" 2>/dev/null | wc -l)
    if [ $rc != 0 ] || [ "$up" != "$BURST" ]; then
      fail burst "$c" $rc "$RUN/burst.err" "xargs -P $PAR ${NAME[$c]} run -d ... ($up of $BURST running)"
    else
      T[burst/$c]+="$(((t1 - t0 + 500) / 1000)) "
    fi
    t2=${EPOCHREALTIME/./}
    ids=$(cli "$c" ps -aq --filter "name=ops-burst-$r$c-" 2>/dev/null)
    if [ -n "$ids" ] && ! cli "$c" rm -f $ids >/dev/null 2>"$RUN/rm.err"; then
      echo "!! ${NAME[$c]}: rm -f of the burst failed: rm -f <the $(echo $ids | wc -w) containers>:"
      sed 's/^/!!    /' "$RUN/rm.err"
      [ "${ENGINE[$c]}" != berth ] || BERTH_FAILED=1
      # what the containers it could not remove look like, and a second rm -f
      for id in $(cli "$c" ps -aq --filter "name=ops-burst-$r$c-" 2>/dev/null); do
        st=$(cli "$c" inspect -f '{{.Name}} status={{.State.Status}} pid={{.State.Pid}} exit={{.State.ExitCode}} error={{.State.Error}}' "$id" 2>&1)
        pid=$(cli "$c" inspect -f '{{.State.Pid}}' "$id" 2>/dev/null)
        [ -n "$pid" ] && [ "$pid" != 0 ] && st+=" (pid $pid: $(awk '/^State:/ {print $2, $3}' "/proc/$pid/status" 2>/dev/null || echo gone))"
        echo "!!    left: $st"
        if cli "$c" rm -f "$id" >/dev/null 2>"$RUN/rm.err"; then echo "!!    a second rm -f removed it"
        else echo "!!    a second rm -f failed too: $(cat "$RUN/rm.err")"; fi
      done
    fi
    t3=${EPOCHREALTIME/./}
    printf '   burst %d %-34s %6d ms for %d running; rm -f of all %6d ms (untimed)\n' "$r" "${NAME[$c]}" \
      $(((t1 - t0) / 1000)) "$up" $(((t3 - t2) / 1000))
  done
done
report burst "${BURST_CLIENTS[@]}"

# ---------------------------------------------------------------------------------------------
# 5 — logs.

LINES=$((LOG_MB * 10000))
LINE=$(printf '%099d' 0)
GEN="yes $LINE | head -n $LINES"
BYTES=$((LINES * 100))
say "5 logs: a container printing $BYTES bytes ($LINES lines of 100 bytes: sh -c 'yes 0…0 | head -n $LINES'), $LOG_REPS runs per engine"
# the generator alone: the same busybox, the same command, no container (chroot into the root fs)
for i in $(seq "$LOG_REPS"); do
  t0=${EPOCHREALTIME/./}
  chroot "$ROOTFS" /bin/sh -c "$GEN" >/dev/null || die "the generator failed outside a container"
  t1=${EPOCHREALTIME/./}
  T[gen/host]+="$(((t1 - t0 + 500) / 1000)) "
done
GEN_MS=$(median "${T[gen/host]}")
echo "   generator alone (chroot, > /dev/null): median $GEN_MS ms   runs: ${T[gen/host]}"
# log_files ENGINE ID: the container's log files, whichever the driver: json-file's
# <id>-json.log[.N[.gz]], local's local-logs/container.log[.N[.gz]]
log_files() {
  local d
  case $1 in berth) d=$RUN/berthd/root/containers/$2 ;; dockerd) d=$RUN/dockerd/root/containers/$2 ;; esac
  ls -d "$d/"*-json.log* "$d/local-logs/"* 2>/dev/null
}
# Two more ways to run berthd's log container, with the docker CLI:
#   bw  its bound raised above what the container prints (--log-opt max-size=1g: the whole
#       output kept), so that `logs` returns the same bytes as dockerd's unbounded json-file
#   bl  --log-driver local --log-opt max-size=1g (the compact format, the whole output kept)
C_bw=("${C_bd[@]}") NAME[bw]="docker CLI -> berthd, max-size=1g" ENGINE[bw]=berth
C_bl=("${C_bd[@]}") NAME[bl]="docker CLI -> berthd, local, 1g" ENGINE[bl]=berth
declare -A DISK KEPT NFILES DRIVER
LOG_CLIENTS=(bd dd bw bl)
for r in $(seq "$LOG_REPS"); do
  for c in $(rotated "$r" "${LOG_CLIENTS[@]}"); do
    e=${ENGINE[$c]} name=ops-logs-$c-$r opts=()
    [ "$c" != bw ] || opts=(--log-opt max-size=1g)
    [ "$c" != bl ] || opts=(--log-driver local --log-opt max-size=1g)
    [ -z "${FAILED[logrun/$c]:-}" ] || continue
    sync
    timed logrun "$c" run --network none --name "$name" "${opts[@]}" bbox sh -c "$GEN" || continue
    id=$(cli "$c" inspect -f '{{.Id}}' "$name" 2>/dev/null)
    sync
    [ -n "${FAILED[logs/$c]:-}" ] || timed logs "$c" logs "$name"
    [ "$c" != bd ] || [ -n "${FAILED[logs/bb]:-}" ] || timed logs bb logs "$name"
    if [ "$r" = 1 ]; then
      KEPT[$c]=$(cli "$c" logs "$name" 2>/dev/null | wc -c)
      DISK[$c]=$(stat -c %s $(log_files "$e" "$id") 2>/dev/null | awk '{s += $1} END {print s + 0}')
      NFILES[$c]=$(log_files "$e" "$id" | wc -l)
      DRIVER[$c]=$(cli "$c" inspect -f '{{.HostConfig.LogConfig.Type}}' "$name" 2>/dev/null)
    fi
    cli "$c" rm -f "$name" >/dev/null 2>&1
  done
done
# br: berthd's default config once more, on LOG_MB MB of lines like real output's (about 100
# bytes each: a time, a path, numbers), for the disk figure.
C_br=("${C_bd[@]}") NAME[br]="docker CLI -> berthd, real-like lines" ENGINE[br]=berth
REAL_GEN="seq 1 $LINES | sed 's|.*|2026-11-24T04:00:00.&Z INFO GET /api/v1/items/& 200 in &us user=u& session=&-&|'"
if cli br run --network none --name ops-logs-br bbox sh -c "$REAL_GEN" >/dev/null 2>"$RUN/err"; then
  id=$(cli br inspect -f '{{.Id}}' ops-logs-br 2>/dev/null)
  KEPT[br]=$(cli br logs ops-logs-br 2>/dev/null | wc -c)
  DISK[br]=$(stat -c %s $(log_files berth "$id") 2>/dev/null | awk '{s += $1} END {print s + 0}')
  NFILES[br]=$(log_files berth "$id" | wc -l)
  DRIVER[br]=$(cli br inspect -f '{{.HostConfig.LogConfig.Type}}' ops-logs-br 2>/dev/null)
else
  echo "!! the real-like log run failed: $(tail -1 "$RUN/err")"
  BERTH_FAILED=1
fi
cli br rm -f ops-logs-br >/dev/null 2>&1
echo "   run (attached, printing $LOG_MB MB, output to /dev/null):"
report logrun "${LOG_CLIENTS[@]}"
echo "   logs C > /dev/null:"
report logs bd bb dd bw bl
echo "   the log (first run):"
for c in "${LOG_CLIENTS[@]}" br; do
  [ -n "${KEPT[$c]:-}" ] || continue
  m=$(med "logs/$c")
  printf '   %-34s %s driver, %d file(s), %d bytes on disk; `logs` returns %d of the %d bytes printed (%s) in %s ms: %s MB/s\n' \
    "${NAME[$c]}" "${DRIVER[$c]:-?}" "${NFILES[$c]}" "${DISK[$c]}" "${KEPT[$c]}" "$BYTES" \
    "$(awk -v d="${DISK[$c]}" -v k="${KEPT[$c]}" 'BEGIN {printf (k ? "%.2f bytes on disk per byte kept" : "nothing kept"), d / (k ? k : 1)}')" \
    "${m:-n/a}" "$([ -n "$m" ] && awk -v b="${KEPT[$c]}" -v m="$m" 'BEGIN {printf "%.0f", b / 1e3 / m}' || echo n/a)"
done

# ---------------------------------------------------------------------------------------------
# Summary.

ms() { local m; m=$(med "$1"); [ -n "$m" ] && echo "${m}ms" || echo n/a; }
r_run_d=$(ratio "$(med run/bd)" "$(med run/dd)")
r_run_b=$(ratio "$(med run/bb)" "$(med run/dd)")
r_exec_b=$(ratio "$(med exec/bb)" "$(med exec/dd)")
r_exec_d=$(ratio "$(med exec/bd)" "$(med exec/dd)")
r_burst_d=$(ratio "$(med burst/bd)" "$(med burst/dd)")
r_burst_b=$(ratio "$(med burst/bb)" "$(med burst/dd)")
r_mem=$(ratio "${PERC[berth]:-}" "${PERC[dockerd]:-}")
# the verdicts are taken on the unrounded ratios
v_run_d=$(RAW=1 ratio "$(med run/bd)" "$(med run/dd)") v_run_b=$(RAW=1 ratio "$(med run/bb)" "$(med run/dd)")
v_exec_b=$(RAW=1 ratio "$(med exec/bb)" "$(med exec/dd)")
v_burst_d=$(RAW=1 ratio "$(med burst/bd)" "$(med burst/dd)") v_burst_b=$(RAW=1 ratio "$(med burst/bb)" "$(med burst/dd)")
ov() { local m; m=$(med "logrun/$1"); [ -n "$m" ] && echo $((m - GEN_MS)); }
OV_B=$(ov bd) OV_D=$(ov dd)
bpb() { [ -n "${DISK[$1]:-}" ] && [ "${KEPT[$1]:-0}" -gt 0 ] && ratio "${DISK[$1]}" "${KEPT[$1]}" || echo n/a; }
kb() { [ -n "${1:-}" ] && echo "${1}kB" || echo n/a; }
pod() { [ "$PODMAN" = 1 ] && echo " $1"; }
echo
echo "log: $LOG"
echo "container-ops  run: docker->berthd=$(ms run/bd) berth->berthd=$(ms run/bb) dockerd=$(ms run/dd)$(pod "podman=$(ms run/pp)")" \
  "| exec: berth->berthd=$(ms exec/bb) docker->berthd=$(ms exec/bd) dockerd=$(ms exec/dd)$(pod "podman=$(ms exec/pp)")" \
  "| burst$BURST: docker->berthd=$(ms burst/bd) berth->berthd=$(ms burst/bb) dockerd=$(ms burst/dd)" \
  "| mem: berthd-idle-rss=$(kb "$IDLE_RSS") per-container-pss berth=$(kb "${PERC[berth]:-}") dockerd=$(kb "${PERC[dockerd]:-}")$(pod "podman=$(kb "${PERC[podman]:-}")")" \
  "| logs$LOG_MB: gen=${GEN_MS}ms run berthd=$(ms logrun/bd) dockerd=$(ms logrun/dd) logs docker->berthd=$(ms logs/bd) berth->berthd=$(ms logs/bb) dockerd=$(ms logs/dd)" \
  "(whole log kept: run=$(ms logrun/bw) logs=$(ms logs/bw); local: run=$(ms logrun/bl) logs=$(ms logs/bl))" \
  "disk/byte berthd=$(bpb bd) real-lines=$(bpb br) (whole json-file $(bpb bw), whole local $(bpb bl)) dockerd=$(bpb dd) kept berthd=${KEPT[bd]:-n/a} dockerd=${KEPT[dd]:-n/a}"
echo "berth/dockerd  run docker-cli=$r_run_d berth-cli=$r_run_b | exec berth-cli=$r_exec_b docker-cli=$r_exec_d" \
  "| burst docker-cli=$r_burst_d berth-cli=$r_burst_b | mem per-container=$r_mem" \
  "| logs overhead=$(ratio "$OV_B" "$OV_D") logs=$(ratio "$(med logs/bd)" "$(med logs/dd)")"
echo "goals (issue 4):"
echo "   run, docker CLI on berthd <= 0.25x dockerd:      $(verdict "$v_run_d" 0.25) ($r_run_d)"
echo "   run, berth CLI <= 0.12x dockerd:                 $(verdict "$v_run_b" 0.12) ($r_run_b)"
echo "   exec, berth CLI <= 0.3x dockerd:                 $(verdict "$v_exec_b" 0.3) ($r_exec_b; docker CLI on berthd $r_exec_d)"
echo "   burst of $BURST, $PAR at a time, <= 0.15x dockerd:    $(verdict "$v_burst_d" 0.15) with the docker CLI ($r_burst_d), $(verdict "$v_burst_b" 0.15) with berth's ($r_burst_b)"
echo "   berthd idle RSS <= 30 MB (30720 kB):             $(verdict "$IDLE_RSS" 30720) ($IDLE_RSS kB)"
echo "   engine memory per container <= 1 MB PSS:         $(verdict "${PERC[berth]:-n/a}" 1024) ($(kb "${PERC[berth]:-}"); dockerd $(kb "${PERC[dockerd]:-}"))"
echo "   logs: run overhead <= 1.5 s over the program:    $(verdict "${OV_B:-n/a}" 1500) (${OV_B:-n/a} ms; dockerd ${OV_D:-n/a} ms)"
echo "   logs: \`docker logs\` < 1.5 s:                     $(verdict "$(med logs/bd)" 1499) ($(ms logs/bd); berth CLI $(ms logs/bb); dockerd $(ms logs/dd); berthd keeping the whole log $(ms logs/bw))"
# judged on the default config with lines like real output's (br): lines of zeros compress a
# hundredfold in the gzipped rotated files
echo "   logs: <= 1.2 bytes on disk per byte kept:        $(verdict "$(RAW=1 bpb br)" 1.2) ($(bpb br) with berthd's default ${DRIVER[br]:-?} on lines like real output's, ${NFILES[br]:-?} files;" \
  "whole log uncompressed: json-file $(bpb bw), local $(bpb bl); zeros with the default $(bpb bd); dockerd $(bpb dd))"
[ "$BERTH_FAILED" = 0 ] || exit 1
exit 0
