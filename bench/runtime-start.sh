#!/bin/bash
# runtime-start.sh — serial `run` of a busybox bundle running `true`: berth-runtime vs runc vs crun,
# on the same bundle, in one hyperfine invocation; then the peak RSS of each runtime during a `run`.
#
# Usage: bench/runtime-start.sh            (as root)
#
# Environment:
#   BERTH_RUNTIME=path   berth-runtime binary (default: the repo's bin/berth-runtime)
#   N=30                 counted runs per runtime (hyperfine -r)
#   WARMUP=3             warm-up runs per runtime (hyperfine -w), in each round
#   ROUNDS=5             rounds, each over all runtimes in a rotated order; timings pooled
#   RSS_RUNS=10          runs per runtime under /usr/bin/time for the peak RSS (median reported)
#   WORK=/var/tmp/berth-bench   bundle (cached), results (JSON, logs), per-run state dirs
#
# Every runtime is run the same way, through one wrapper (`privns.sh`, written into $WORK): a
# private mount namespace in which the hybrid cgroup2 mount /sys/fs/cgroup/unified is unmounted
# (crun 1.8 refuses that layout, so runc and berth get the same treatment and the same cost), with
# a private `--root` state dir per runtime per invocation of this script and a unique container id
# per run (<prefix>-<pid of the wrapper>). The wrapper's cost (unshare + sh + umount) is in all three.
#
# Exit status: 0 when the peers were measured (even if berth-runtime is missing or fails; that is
# printed clearly and its figures are n/a); 1 when berth-runtime fails; 2 on a setup error.
set -u -o pipefail
export LC_ALL=C

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
WORK=${WORK:-/var/tmp/berth-bench}
N=${N:-30}
WARMUP=${WARMUP:-3}
RSS_RUNS=${RSS_RUNS:-10}
ROUNDS=${ROUNDS:-5}
BERTH=${BERTH_RUNTIME:-$REPO/bin/berth-runtime}

die() { echo "runtime-start.sh: $*" >&2; exit 2; }
say() { echo "== $*"; }

[ "$(id -u)" = 0 ] || die "needs root: it creates containers"
for v in N WARMUP RSS_RUNS ROUNDS; do
  case "${!v}" in '' | *[!0-9]* | 0) die "$v must be a positive whole number, got '${!v}'" ;; esac
done

# Peers and tools (Debian packages), installed only when missing.
need=()
command -v runc >/dev/null || need+=(runc)
command -v crun >/dev/null || need+=(crun)
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v jq >/dev/null || need+=(jq)
command -v unshare >/dev/null || need+=(util-linux)
[ -x /bin/busybox ] || need+=(busybox-static)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  say "apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; } ||
    die "apt-get install ${need[*]} failed"
fi
RUNC=$(command -v runc) CRUN=$(command -v crun)

# The bundle: a busybox rootfs (one static binary and its applet links) and runc's default spec,
# running `true` without a terminal. Built once and reused.
BUNDLE=$WORK/bundle
mkdir -p "$WORK/results" || die "mkdir $WORK"
if [ ! -x "$BUNDLE/rootfs/bin/busybox" ] || [ ! -f "$BUNDLE/config.json" ]; then
  say "making the busybox bundle in $BUNDLE"
  rm -rf "$BUNDLE.tmp" && mkdir -p "$BUNDLE.tmp/rootfs" || die "mkdir $BUNDLE.tmp"
  (
    set -e
    r=$BUNDLE.tmp/rootfs
    mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/root"
    chmod 1777 "$r/tmp"
    cp /bin/busybox "$r/bin/busybox"
    chroot "$r" /bin/busybox --install -s
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
    cd "$BUNDLE.tmp"
    "$RUNC" spec
    jq '.process.terminal = false | .process.args = ["true"]' config.json >config.json.new
    mv config.json.new config.json
  ) || die "making the bundle failed"
  rm -rf "$BUNDLE" && mv "$BUNDLE.tmp" "$BUNDLE" || die "installing the bundle at $BUNDLE"
fi

# The one wrapper every runtime runs through: privns.sh ID_PREFIX RUNTIME ARG... runs
# `RUNTIME ARG... ID_PREFIX-<pid>` in a private mount namespace without the hybrid cgroup2 mount.
WRAP=$WORK/privns.sh
cat >"$WRAP" <<'EOF'
#!/bin/sh
# privns.sh ID_PREFIX RUNTIME ARG...: run `RUNTIME ARG... ID_PREFIX-<pid>` in a private mount
# namespace in which the hybrid cgroup2 mount /sys/fs/cgroup/unified is unmounted. Nothing outside
# this process's own mount namespace changes. Written by bench/runtime-start.sh.
exec unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; p=$1; shift; exec "$@" "$p-$$"' sh "$@"
EOF
chmod +x "$WRAP"

STAMP=$(date +%Y%m%d-%H%M%S)
STATE=$WORK/state.$$
mkdir -p "$STATE" || die "mkdir $STATE"
NAMES=() BINS=()
# cleanup: force-delete any container a failed run left behind, then drop the state dirs.
cleanup() {
  local i id
  for i in "${!NAMES[@]}"; do
    for id in $("${BINS[$i]}" --root "$STATE/${NAMES[$i]}" list -q 2>/dev/null); do
      unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' sh \
        "${BINS[$i]}" --root "$STATE/${NAMES[$i]}" delete --force "$id" >/dev/null 2>&1
    done
  done
  rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cmd NAME BIN -> the command line that runs the bundle once, shell-quoted (hyperfine -N splits it
# like a shell; this script runs it with eval)
cmd() { printf '%q ' "$WRAP" "berth-bench-$1-$$" "$2" --root "$STATE/$1" run --bundle "$BUNDLE"; }

# A runtime takes part only if one `run` succeeds.
BERTH_STATUS=ok
try_runtime() {
  local name=$1 bin=$2 out rc
  mkdir -p "$STATE/$name"
  out=$(cd "$WORK" && eval "$(cmd "$name" "$bin")" </dev/null 2>&1)
  rc=$?
  if [ $rc = 0 ]; then
    NAMES+=("$name"); BINS+=("$bin")
    return 0
  fi
  echo "!! $name: \`run\` of the bundle failed (exit $rc): $(cmd "$name" "$bin")"
  [ -z "$out" ] || echo "$out" | tail -5 | sed 's/^/!!   /'
  return 1
}
if [ ! -x "$BERTH" ]; then
  echo "!! berth-runtime: not found at $BERTH (run 'make build' or set BERTH_RUNTIME); measuring the peers only"
  BERTH_STATUS=missing
elif ! try_runtime berth "$BERTH"; then
  echo "!! berth-runtime FAILED; measuring the peers only"
  BERTH_STATUS=failed
fi
try_runtime runc "$RUNC" || true
try_runtime crun "$CRUN" || true
[ ${#NAMES[@]} -gt 0 ] || die "no runtime could run the bundle"

say "runtime start: \`run\` of $BUNDLE (busybox, \`true\`), $N runs + $WARMUP warm-up each, serial"
say "versions: runc $("$RUNC" --version | awk 'NR==1{print $3}'), crun $("$CRUN" --version | awk 'NR==1{print $3}'), berth-runtime $BERTH"
say "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
JSON=$WORK/results/runtime-start-$STAMP.json
# bench_all: ROUNDS hyperfine invocations over every runtime in NAMES, the order rotated
# each round so that no runtime always runs first or after the same neighbour (a slow
# drift of the machine, such as the kernel's deferred network-namespace cleanup, then
# lands on all of them alike); the timings of all rounds are pooled into $JSON.
bench_all() {
  local r k i hf per=$(( (N + ROUNDS - 1) / ROUNDS ))
  [ "$per" -ge 2 ] || per=2
  rm -f "$WORK/results/round-$STAMP-"*.json
  for r in $(seq 0 $((ROUNDS - 1))); do
    hf=()
    for k in "${!NAMES[@]}"; do
      i=$(( (k + r) % ${#NAMES[@]} ))
      hf+=(-n "${NAMES[$i]}" "$(cmd "${NAMES[$i]}" "${BINS[$i]}")")
    done
    say "round $((r + 1))/$ROUNDS: ${per} runs each"
    (cd "$WORK" && hyperfine -N -w "$WARMUP" -r "$per" --style basic --export-json "$WORK/results/round-$STAMP-$r.json" "${hf[@]}") |
      grep -E '^(Benchmark|  Time)' || return 1
  done
  jq -s '{results: [[.[].results[]] | group_by(.command)[] | {command: .[0].command, times: [.[].times[]]}
          | .times |= sort
          | . + {median: (if (.times|length) % 2 == 1 then .times[(.times|length)/2|floor]
                          else (.times[(.times|length)/2 - 1] + .times[(.times|length)/2]) / 2 end),
                 mean: ((.times|add) / (.times|length)), min: .times[0], max: .times[-1]}]}' \
    "$WORK/results/round-$STAMP-"*.json >"$JSON" || return 1
  jq -r '.results[] | "   \(.command): median \(.median*1000*10|round/10) ms, mean \(.mean*1000*10|round/10) ms, min \(.min*1000*10|round/10) ms, max \(.max*1000*10|round/10) ms, n=\(.times|length)"' "$JSON"
}
if ! bench_all; then
  [ "${NAMES[0]}" = berth ] || die "hyperfine failed"
  # a run of berth-runtime failed part-way (hyperfine stops at a non-zero exit): measure the peers
  echo "!! berth-runtime FAILED during the benchmark; measuring the peers only"
  BERTH_STATUS=failed NAMES=("${NAMES[@]:1}") BINS=("${BINS[@]:1}")
  [ ${#NAMES[@]} -gt 0 ] && bench_all || die "hyperfine failed"
fi

# Peak RSS: GNU time's %M over the whole wrapper command. It is ru_maxrss from wait4(): the largest
# peak RSS of any single process of the tree (the runtime process across its execs, or a child it
# reaped, such as runc's `runc init` container init) — not the sum of processes alive together.
say "peak RSS: /usr/bin/time -f %M over the same command, $RSS_RUNS runs each, median"
declare -A RSS MED
for i in "${!NAMES[@]}"; do
  name=${NAMES[$i]} vals=()
  for _ in $(seq "$RSS_RUNS"); do
    (cd "$WORK" && eval "/usr/bin/time -f %M -o $(printf %q "$STATE/rss") $(cmd "$name" "${BINS[$i]}")" </dev/null >/dev/null 2>&1) ||
      { echo "!! $name: a run under /usr/bin/time failed"; continue; }
    vals+=("$(tail -1 "$STATE/rss")")
  done
  [ ${#vals[@]} -gt 0 ] || continue
  RSS[$name]=$(printf '%s\n' "${vals[@]}" | sort -n | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}')
  echo "   $name: median ${RSS[$name]} kB (runs: ${vals[*]})"
done

for name in "${NAMES[@]}"; do
  MED[$name]=$(jq -r --arg n "$name" '.results[] | select(.command == $n) | .median * 1000' "$JSON")
done
ms() { [ -n "${MED[$1]:-}" ] && printf '%.1fms' "${MED[$1]}" || echo n/a; }
kb() { [ -n "${RSS[$1]:-}" ] && echo "${RSS[$1]}kB" || echo n/a; }
ratio() { [ -n "${MED[$1]:-}" ] && [ -n "${MED[$2]:-}" ] && awk -v a="${MED[$1]}" -v b="${MED[$2]}" 'BEGIN{printf "%.2f", a/b}' || echo n/a; }

echo
echo "results: $JSON"
[ "$BERTH_STATUS" = ok ] || echo "berth-runtime: $BERTH_STATUS ($BERTH) — its figures are n/a"
echo "runtime-start  berth=$(ms berth) runc=$(ms runc) crun=$(ms crun)  berth/runc=$(ratio berth runc) berth/crun=$(ratio berth crun)"
echo "peak-rss       berth=$(kb berth) runc=$(kb runc) crun=$(kb crun)"
[ "$BERTH_STATUS" = failed ] && exit 1
exit 0
