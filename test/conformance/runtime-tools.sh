#!/bin/bash
# runtime-tools.sh — run the OCI runtime-tools validation suite (v0.9.0) against one or more
# OCI runtimes and compare them with runc.
#
# Usage: test/conformance/runtime-tools.sh [RUNTIME...]
#
# Each RUNTIME is one of
#   runc | crun | berth     shorthands: runc and crun from PATH (crun is run in a private mount
#                           namespace without /sys/fs/cgroup/unified when the host has that hybrid
#                           mount, because crun 1.8 refuses the layout); berth is $BERTH_RUNTIME or
#                           the repo's bin/berth-runtime
#   PATH or COMMAND         any runtime binary, or a wrapper script that passes its arguments on
#   LABEL=COMMAND [ARG...]  the same with a label for the tables; the command may hold words,
#                           e.g. "crun-ns=/work/shared/peers/crun-ns.sh crun"
# Default: runc berth. When a berth runtime is listed, runc is added as the reference if missing.
#
# Exit status: 0 when every runtime ran and no berth runtime fails a test that runc passes;
# 1 when berth fails such a test; 2 on a setup error.
#
# Environment:
#   WORK=/var/tmp/berth-conformance  work dir: the runtime-tools build (cached) and the logs
#   TIMEOUT=60                       seconds per validation program; a timeout counts as one `not ok`
#   PROGRAMS="default state ..."     run only these validation programs (default: all 58)
#   STATE_ROOT=private               private: each runtime gets `--root <run dir>/state/<label>`
#                                    (leftover containers are force-deleted after each program);
#                                    STATE_ROOT=default: no --root, the runtime's own state dir
#   BERTH_RUNTIME=path               the berth-runtime binary for the `berth` shorthand
#   GO=go                            the Go toolchain used to build the suite
set -u -o pipefail
export LC_ALL=C

RT_VERSION=v0.9.0
RT_MODULE=github.com/opencontainers/runtime-tools
# Pins that make the pre-modules v0.9.0 tree build: selinux after v1.8.0 dropped label.FileLabel,
# runtime-spec v1.3.0 made Pids.Limit a pointer. The rest is resolved by `go mod tidy`.
RT_PINS="github.com/opencontainers/selinux@v1.8.0 github.com/opencontainers/runtime-spec@v1.0.2"
BUILD_RECIPE=1 # bump when the build steps below change, to invalidate the cache

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
WORK=${WORK:-/var/tmp/berth-conformance}
TIMEOUT=${TIMEOUT:-60}
STATE_ROOT=${STATE_ROOT:-private}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
RT=$WORK/runtime-tools

die() { echo "runtime-tools.sh: $*" >&2; exit 2; }
note() { echo "== $*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root: the validation programs create containers, cgroups and mounts"
case "$TIMEOUT" in '' | *[!0-9]*) die "TIMEOUT must be whole seconds, got '$TIMEOUT'" ;; esac

# ---------------------------------------------------------------------------------------------
# Build (cached): copy the module tree, make it a module, pin, tidy, build runtimetest and the
# validation programs. The stamp records what was built with what.
build_suite() {
  local goversion stamp want src
  goversion=$("$GO" env GOVERSION) || die "no Go toolchain at '$GO' (set GO=)"
  want="recipe=$BUILD_RECIPE $RT_MODULE@$RT_VERSION pins=[$RT_PINS] $goversion"
  stamp=$RT/.berth-build-stamp
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$RT/runtimetest" ] && [ -d "$RT/vbin" ]; then
    return 0
  fi
  note "building $RT_MODULE@$RT_VERSION in $RT ($goversion)"
  export GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off GOTOOLCHAIN=local GO111MODULE=on
  src=$(cd / && "$GO" mod download -json "$RT_MODULE@$RT_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] && [ -d "$src/validation" ] || die "go mod download $RT_MODULE@$RT_VERSION gave no source dir"
  rm -rf "$RT.tmp" && mkdir -p "$WORK" && cp -r "$src" "$RT.tmp" && chmod -R u+w "$RT.tmp" || die "copying $src"
  (
    set -e
    cd "$RT.tmp"
    "$GO" mod init "$RT_MODULE" 2>/dev/null
    for p in $RT_PINS; do "$GO" get "$p"; done
    "$GO" mod tidy
    CGO_ENABLED=0 "$GO" build -o runtimetest ./cmd/runtimetest
    mkdir -p vbin
    "$GO" build -o vbin/ ./validation/...
  ) >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "build failed; log: $WORK/build.log"; }
  echo "$want" >"$RT.tmp/.berth-build-stamp"
  rm -rf "$RT" && mv "$RT.tmp" "$RT" || die "installing the build at $RT"
}

# ---------------------------------------------------------------------------------------------
# Runtimes: parse the arguments into labels and command lines (arrays kept as %q strings).
LABELS=() CMDS=()
hybrid_cgroup2() { grep -q ' /sys/fs/cgroup/unified ' /proc/self/mountinfo; }
add_runtime() {
  local spec=$1 label cmd
  case "$spec" in
    runc) label=runc; cmd=$(command -v runc) || die "runc not found (apt-get install runc)" ;;
    crun) label=crun; cmd=$(command -v crun) || die "crun not found (apt-get install crun)"
          hybrid_cgroup2 && cmd="@privns $cmd" ;;
    berth) label=berth-runtime; cmd=${BERTH_RUNTIME:-$REPO/bin/berth-runtime}
           [ -x "$cmd" ] || die "berth-runtime not found at $cmd (run 'make build' or set BERTH_RUNTIME)" ;;
    *=*) label=${spec%%=*}; cmd=${spec#*=} ;;
    *) cmd=$spec; label=$(basename "${spec%% *}") ;;
  esac
  local first=${cmd#@privns }; first=${first%% *}
  command -v "$first" >/dev/null || die "runtime '$spec': '$first' is not an executable"
  local l; for l in "${LABELS[@]}"; do [ "$l" != "$label" ] || die "two runtimes labelled '$label'; use LABEL=COMMAND"; done
  LABELS+=("$label"); CMDS+=("$cmd")
}
is_berth() { case "$1" in *berth*) return 0 ;; esac; return 1; }

[ $# -gt 0 ] || set -- runc berth
for a in "$@"; do add_runtime "$a"; done
REF=-1 ANY_BERTH=0
for i in "${!LABELS[@]}"; do
  [ "${LABELS[$i]}" = runc ] && [ $REF -lt 0 ] && REF=$i
  { is_berth "${LABELS[$i]}" || is_berth "${CMDS[$i]}"; } && ANY_BERTH=1
done
if [ $REF -lt 0 ] && [ $ANY_BERTH = 1 ]; then
  note "adding runc as the reference for berth"
  LABELS=(runc "${LABELS[@]}"); CMDS=("$(command -v runc || die 'runc not found')" "${CMDS[@]}"); REF=0
fi

build_suite
if [ -n "${PROGRAMS:-}" ]; then
  read -r -a PROGS <<<"$PROGRAMS"
  for p in "${PROGS[@]}"; do [ -x "$RT/vbin/$p" ] || die "no validation program '$p' (see $RT/vbin)"; done
else
  mapfile -t PROGS < <(ls "$RT/vbin")
fi

RUN=$WORK/logs/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$RUN" || die "mkdir $RUN"

# make_wrapper LABEL CMD -> path of an executable that runs CMD (with --root when STATE_ROOT=private)
make_wrapper() {
  local label=$1 cmd=$2 w=$RUN/$1.runtime privns=0 root=""
  case "$cmd" in "@privns "*) privns=1; cmd=${cmd#@privns } ;; esac
  if [ "$STATE_ROOT" = private ]; then
    root=$RUN/state/$label; mkdir -p "$root"
    root="--root $(printf %q "$root")"
  fi
  {
    echo '#!/bin/sh'
    echo "# generated by runtime-tools.sh for runtime '$label'"
    if [ $privns = 1 ]; then
      echo "# private mount namespace without the hybrid cgroup2 mount (crun refuses that layout)"
      echo "exec unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec \"\$@\"' sh $cmd $root \"\$@\""
    else
      echo "exec $cmd $root \"\$@\""
    fi
  } >"$w"
  chmod +x "$w"
  echo "$w"
}

# reap WRAPPER TMPDIR: after each program, force-delete whatever containers it left in the private
# state dir, and unmount what it left mounted under its TMPDIR (a container without a mount
# namespace, as in linux_ns_itype, gets its /proc, /dev and /sys mounted in the host's namespace).
reap() {
  local id m
  if [ "$STATE_ROOT" = private ]; then
    for id in $("$1" list -q 2>/dev/null); do
      "$1" kill "$id" KILL >/dev/null 2>&1
      "$1" delete --force "$id" >/dev/null 2>&1 || "$1" delete "$id" >/dev/null 2>&1
    done
  fi
  awk -v p="$2/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf --one-file-system "$2"/* 2>/dev/null
}

# run_suite INDEX: every program against one runtime. Writes $RUN/<label>/<prog>.{tap,stderr}
# and $RUN/<label>.counts ("prog ok notok skip status"). A timeout gets a synthetic `not ok` line
# in its .tap; a program that exits non-zero before any test line (runc has six such on this host)
# is counted in the "died" column only, so the totals stay comparable with plain TAP counting.
run_suite() {
  local label=${LABELS[$1]} w p tap tmp rc ok nok skip status t0
  w=$(make_wrapper "$label" "${CMDS[$1]}")
  tmp=$RUN/tmp/$label
  mkdir -p "$RUN/$label" "$tmp"
  : >"$RUN/$label.counts"
  note "$label: ${#PROGS[@]} programs, RUNTIME=$w ($(tail -1 "$w" | cut -c6-))"
  t0=$SECONDS
  for p in "${PROGS[@]}"; do
    tap=$RUN/$label/$p.tap
    (cd "$RT" && RUNTIME=$w TMPDIR=$tmp timeout -k 10 "$TIMEOUT" "$RT/vbin/$p" >"$tap" 2>"$RUN/$label/$p.stderr" </dev/null)
    rc=$?
    status=exit$rc
    if [ $rc = 124 ] || [ $rc = 137 ]; then
      status=timeout
      echo "not ok - $p: timed out after ${TIMEOUT}s (counted as one failure by runtime-tools.sh)" >>"$tap"
    elif [ $rc != 0 ] && ! grep -qE '^(not )?ok\b' "$tap"; then
      status=died$rc
    fi
    reap "$w" "$tmp"
    ok=$(grep -cE '^ok\b' "$tap"); nok=$(grep -cE '^not ok\b' "$tap"); skip=$(grep -cE '^ok [0-9]+ # SKIP' "$tap")
    echo "$p $ok $nok $skip $status" >>"$RUN/$label.counts"
    printf '   %-40s ok %4d  not ok %3d  %s\n' "$p" "$ok" "$nok" "$status" >&2
  done
  # one log per runtime: every program's TAP, each under a header line
  for p in "${PROGS[@]}"; do echo "# ===== $p"; cat "$RUN/$label/$p.tap"; done >"$RUN/$label.tap"
  rmdir "$tmp" 2>/dev/null || echo "   (left behind: $tmp)" >&2
  note "$label: done in $((SECONDS - t0))s"
}

for i in "${!LABELS[@]}"; do run_suite "$i"; done
rmdir "$RUN/tmp" 2>/dev/null; rm -rf --one-file-system "$RUN/state"

# ---------------------------------------------------------------------------------------------
# Report.
# keys FILE.tap: one line per TAP test line, "prog<TAB>result<TAB>description#occurrence", with
# random names (uuids, long numbers) normalised so that runs can be compared test by test.
keys() {
  sed -E 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/<id>/g; s/[0-9]{6,}/<n>/g' "$1" |
  awk '
    /^# ===== / { prog = $3; next }
    /^(not )?ok( |$)/ {
      res = ($1 == "not") ? "notok" : "ok"
      d = $0
      sub(/^(not )?ok( [0-9]+)?( - | # SKIP | # TODO | )?/, "", d)
      k = prog "\t" d
      n[k]++
      print prog "\t" res "\t" d " #" n[k]
    }'
}

echo
echo "OCI runtime-tools $RT_VERSION validation: ${#PROGS[@]} programs, timeout ${TIMEOUT}s each"
printf '%-16s %6s %7s %6s %9s %5s  %s\n' runtime ok "not ok" skip timeouts died "TAP log"
for l in "${LABELS[@]}"; do
  awk -v l="$l" -v tap="$RUN/$l.tap" '{ok+=$2; nok+=$3; sk+=$4; if ($5=="timeout") to++; if ($5 ~ /^died/) died++}
    END {printf "%-16s %6d %7d %6d %9d %5d  %s\n", l, ok, nok, sk, to, died, tap}' "$RUN/$l.counts"
done

FAIL=""
if [ ${#LABELS[@]} -gt 1 ]; then
  [ $REF -ge 0 ] || REF=0
  ref=${LABELS[$REF]}
  keys "$RUN/$ref.tap" >"$RUN/$ref.keys"
  for i in "${!LABELS[@]}"; do
    [ "$i" = "$REF" ] && continue
    l=${LABELS[$i]}
    keys "$RUN/$l.tap" >"$RUN/$l.keys"
    echo
    echo "Per program, where $l differs from $ref (ok/not ok):"
    printf '  %-40s %18s %18s\n' program "$ref" "$l"
    join -j1 <(awk '{print $1, $2 "/" $3 ($5=="timeout" ? "(timeout)" : "") ($5 ~ /^died/ ? "(died)" : "")}' "$RUN/$ref.counts" | sort) \
             <(awk '{print $1, $2 "/" $3 ($5=="timeout" ? "(timeout)" : "") ($5 ~ /^died/ ? "(died)" : "")}' "$RUN/$l.counts" | sort) |
      awk '$2 != $3 { printf "  %-40s %18s %18s\n", $1, $2, $3; d++ } END { if (!d) print "  (none)" }'
    # tests that pass on the reference and do not pass (fail or are missing) on this runtime
    awk -F'\t' 'NR==FNR { if ($2=="ok") okref[$1 "\t" $3]=1; next }
                { if ($2=="ok") okthis[$1 "\t" $3]=1 }
                END { for (k in okref) if (!(k in okthis)) print k }' \
      "$RUN/$ref.keys" "$RUN/$l.keys" | sort >"$RUN/$l.regressions.all"
    # Programs where berth-runtime differs on purpose (expected-differences.txt) are reported apart.
    awk -F'\t' 'NR==FNR { if ($0 !~ /^#/ && NF >= 2) why[$1]=$2; next }
                 ($1 in why) { if (!seen[$1]++) print "  " $1 ": " why[$1] }' \
      "$SCRIPT_DIR/expected-differences.txt" "$RUN/$l.regressions.all" >"$RUN/$l.expected"
    awk -F'\t' 'NR==FNR { if ($0 !~ /^#/ && NF >= 2) why[$1]=1; next } !($1 in why)' \
      "$SCRIPT_DIR/expected-differences.txt" "$RUN/$l.regressions.all" >"$RUN/$l.regressions"
    awk -F'\t' 'NR==FNR { if ($2=="ok") okthis[$1 "\t" $3]=1; next }
                { if ($2=="ok") okref[$1 "\t" $3]=1 }
                END { for (k in okthis) if (!(k in okref)) print k }' \
      "$RUN/$l.keys" "$RUN/$ref.keys" | sort >"$RUN/$l.improvements"
    n=$(wc -l <"$RUN/$l.regressions"); m=$(wc -l <"$RUN/$l.improvements")
    echo
    echo "Tests that pass on $ref but not on $l: $n (full list: $RUN/$l.regressions)"
    sed 's/\t/: /; s/ #1$//' "$RUN/$l.regressions" | head -60 | sed 's/^/  /'
    [ "$n" -le 60 ] || echo "  ... $((n - 60)) more"
    if [ -s "$RUN/$l.expected" ]; then
      echo "Differences on purpose (test/conformance/expected-differences.txt):"
      cat "$RUN/$l.expected"
    fi
    echo "Tests that pass on $l but not on $ref: $m (full list: $RUN/$l.improvements)"
    sed 's/\t/: /; s/ #1$//' "$RUN/$l.improvements" | head -20 | sed 's/^/  /'
    [ "$m" -le 20 ] || echo "  ... $((m - 20)) more"
    if [ "$n" -gt 0 ] && { is_berth "$l" || is_berth "${CMDS[$i]}"; }; then FAIL="$FAIL $l"; fi
  done
fi
echo
echo "logs: $RUN (per program: $RUN/<runtime>/<program>.{tap,stderr})"
if [ -n "$FAIL" ]; then
  echo "FAIL:$FAIL fails tests that ${LABELS[$REF]} passes (listed above)"
  exit 1
fi
exit 0
