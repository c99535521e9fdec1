#!/bin/bash
# image-transfer.sh — push, cold pull and load of two test images through the real docker CLI:
# berthd against dockerd (when /usr/bin/dockerd exists), both started here on private roots and
# sockets, with Debian's docker-registry on a free 127.0.0.1 port as the registry.
#
# Usage: bench/image-transfer.sh        (as root)
#
# The images are made here as Docker-format archives (docker save's layout: manifest.json +
# config + one uncompressed tar per layer), and cached in $WORK/images:
#   deb           1 layer: Debian bookworm minbase as debootstrap makes it (~200 MB, ~9,000 files;
#                 debootstrap needs Debian's mirror once, unless DEB_ROOTFS names a tree)
#   real$REAL_MB  4 layers of real files copied from this machine's /usr (binaries, shared
#                 libraries, /usr/share data, the rest of /usr/lib), chosen in sorted path order
#                 up to a byte budget per layer; compressible like a distribution image.
#   rand$RAND_MB  3 layers, each one file of random bytes from /dev/urandom: incompressible.
#
# For each image and each engine (operations interleaved run by run: berth, dockerd, berth, ...):
#   push  `docker push` of the freshly loaded image (layers uncompressed, so the engine compresses
#         them) to the registry, which is stopped, emptied and restarted before every run
#   repush the same push again: berth then sends the compressed copies its first push kept
#   pull  `docker pull` after `docker rmi` + `docker image prune -a -f` (no image, blob or layer
#         left); both engines pull the same registry content: the image as dockerd pushed it when
#         dockerd is present (Docker's gzip layers), else as berthd pushed it
#   load  `docker load -i` of the engine's own `docker save` tarball, after the same removal
# Before each timed run, after its setup, `sync` writes back what the setup left dirty.
# N runs each; medians in ms and MB/s (uncompressed image size / median time), ratios berth/dockerd.
#
# Environment:
#   N=5              runs per operation, image and engine
#   REAL_MB=200      size of the real-files image (MB of file content, 4 layers)
#   RAND_MB=300      size of the random image (MB, 3 layers)
#   BENCH_IMAGES="deb real rand"   which images to measure, in this order
#   DEB_ROOTFS=/var/tmp/peers/debian-minbase   a debootstrap minbase tree (else one is made in $WORK)
#   WORK=/var/tmp/berth-bench   cached image archives, results/image-transfer-*.log
#   BERTHD=path      berthd binary (default: the repo's bin/berthd, built with `make build` if missing)
#   DOCKER=path      docker CLI (default /usr/local/bin/docker, else the one on PATH)
#   DOCKERD=path     dockerd (default: the one on PATH); measured only if it exists
#   OP_TIMEOUT=600   seconds one push/pull/load may take before it counts as failed
#
# Exit status: 0 when every berthd operation succeeded; 1 when one failed (its figure is n/a);
# 2 on a setup error. Everything started here (daemons, registry, mounts, temp dirs) is removed
# on exit, also on failure or Ctrl-C; a mount left under the run directory is reported.
set -u -o pipefail
export LC_ALL=C

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
N=${N:-5}
REAL_MB=${REAL_MB:-200}
DEB_ROOTFS=${DEB_ROOTFS:-/var/tmp/peers/debian-minbase}
RAND_MB=${RAND_MB:-300}
WORK=${WORK:-/var/tmp/berth-bench}
BERTHD=${BERTHD:-$REPO/bin/berthd}
DOCKERD=${DOCKERD:-$(command -v dockerd || echo /usr/bin/dockerd)}
REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}
OP_TIMEOUT=${OP_TIMEOUT:-600}
if [ -z "${DOCKER:-}" ]; then
  DOCKER=/usr/local/bin/docker
  [ -x "$DOCKER" ] || DOCKER=$(command -v docker || echo /usr/local/bin/docker)
fi

BENCH_NAME=image-transfer.sh
. "$SCRIPT_DIR/lib.sh"

[ "$(id -u)" = 0 ] || die "needs root: berthd and dockerd mount layers"
for v in N REAL_MB RAND_MB OP_TIMEOUT; do
  case "${!v}" in '' | *[!0-9]* | 0) die "$v must be a positive whole number, got '${!v}'" ;; esac
done
[ "$REAL_MB" -ge 8 ] || die "REAL_MB must be at least 8"
[ "$RAND_MB" -ge 3 ] || die "RAND_MB must be at least 3"
[ -x "$DOCKER" ] || die "no docker CLI at $DOCKER (set DOCKER=)"
[ -x "$REGISTRY_BIN" ] || die "no $REGISTRY_BIN (apt-get install docker-registry)"
for t in curl jq sha256sum tar ss timeout; do command -v $t >/dev/null || die "needs $t"; done
if [ ! -x "$BERTHD" ] && [ "$BERTHD" = "$REPO/bin/berthd" ]; then
  say "make build"
  make -C "$REPO" build >/dev/null || die "make build failed"
fi
[ -x "$BERTHD" ] || die "no berthd at $BERTHD"

mkdir -p "$WORK/images" "$WORK/results" || die "mkdir $WORK"
STAMP=$(date +%Y%m%d-%H%M%S)
LOG=$WORK/results/image-transfer-$STAMP.log
exec > >(tee "$LOG") 2>&1

# ---------------------------------------------------------------------------------------------
# Test images: Docker-format archives built here (cached; rebuilt when missing).

# archive NAME: the cached archive of image NAME; the suffix is the recipe's version, raised
# whenever the way the images are made changes, so that an old cache is not reused.
archive() { echo "$WORK/images/$1.r2.tar"; }

# mkarchive NAME LAYERDIR... : LAYERDIR/layer.tar each; writes $(archive NAME), whose image
# is tagged bench/NAME:latest (a config with the layers' diff IDs, a manifest.json naming them).
mkarchive() {
  local name=$1 d hex diffs=() hist=() tmp
  tmp=$WORK/images/$name.build
  shift
  rm -rf "$tmp" && mkdir -p "$tmp/blobs/sha256" || return 1
  local layers=()
  for d in "$@"; do
    hex=$(sha256sum "$d/layer.tar" | cut -d' ' -f1) || return 1
    ln "$d/layer.tar" "$tmp/blobs/sha256/$hex" 2>/dev/null || cp "$d/layer.tar" "$tmp/blobs/sha256/$hex" || return 1
    diffs+=("sha256:$hex"); layers+=("blobs/sha256/$hex")
    hist+=("$(cat "$d/created_by")")
  done
  jq -n --args '{architecture: "amd64", os: "linux", created: "2026-01-01T00:00:00Z",
      config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"]},
      rootfs: {type: "layers", diff_ids: $ARGS.positional[: ($ARGS.positional|length)/2]},
      history: [$ARGS.positional[($ARGS.positional|length)/2 :][] | {created: "2026-01-01T00:00:00Z", created_by: .}]}' \
    "${diffs[@]}" "${hist[@]}" >"$tmp/config.json" || return 1
  hex=$(sha256sum "$tmp/config.json" | cut -d' ' -f1)
  mv "$tmp/config.json" "$tmp/blobs/sha256/$hex" || return 1
  jq -n --arg c "blobs/sha256/$hex" --arg t "bench/$name:latest" --args \
    '[{Config: $c, RepoTags: [$t], Layers: $ARGS.positional}]' "${layers[@]}" >"$tmp/manifest.json" || return 1
  tar -C "$tmp" --owner=0 --group=0 --numeric-owner --mtime=@1767225600 -cf "$(archive "$name").tmp" \
    manifest.json blobs || return 1
  mv "$(archive "$name").tmp" "$(archive "$name")" && rm -rf "$tmp"
}

# tar_list DIR LIST : a layer tar of the NUL-separated relative paths in LIST (taken from /),
# normalised: owner 0:0, fixed mtime, no atime/ctime, paths in the list's order.
tar_list() {
  tar -C / --null --no-recursion -T "$2" --owner=0 --group=0 --numeric-owner --mtime=@1767225600 \
    --format=posix --pax-option=delete=atime,delete=ctime -cf "$1/layer.tar"
}

# real_layer DIR TREE BUDGET_BYTES [PRUNE] : regular files and symlinks of TREE (without the
# subtree PRUNE), in sorted path order, while they fit in BUDGET_BYTES (larger files skipped),
# with their parent directories. Files with several hard links are left out (a tar stores their
# content once, so they would not count towards the layer's size).
real_layer() {
  local dir=$1 tree=$2 budget=$3 prune=${4:-} sum=0 size path p
  declare -A seen=()
  mkdir -p "$dir" || return 1
  while IFS=' ' read -r -d '' size path; do
    [ $((sum + size)) -le "$budget" ] || continue
    sum=$((sum + size))
    # its parent directories not yet listed (when one is, so are all of its own)
    local anc=() q=$path
    while [[ $q == */* ]]; do
      q=${q%/*}
      [ -z "${seen[$q]:-}" ] || break
      seen[$q]=1 anc=("$q" "${anc[@]}")
    done
    printf '%s\0' "${anc[@]}" "$path"
  done >"$dir/list" < <(cd / && if [ -n "$prune" ]; then find "${tree#/}" -xdev -path "${prune#/}" -prune -o \( -type f -links 1 -o -type l \) -printf '%s %p\0'
                   else find "${tree#/}" -xdev \( -type f -links 1 -o -type l \) -printf '%s %p\0'; fi | sort -z -k2)
  [ "$sum" -gt 0 ] || { echo "no files under $tree" >&2; return 1; }
  echo "ADD $tree ($((sum / 1048576)) MB of its files, sorted by path)" >"$dir/created_by"
  tar_list "$dir" "$dir/list"
}

build_real() {
  local name=real$REAL_MB b=$((REAL_MB * 1048576)) d=$WORK/images/real$REAL_MB.layers
  say "building $name: 4 layers of files from /usr, $REAL_MB MB (cached in $(archive "$name"))"
  rm -rf "$d" && mkdir -p "$d" || return 1
  real_layer "$d/1" /usr/bin $((b * 30 / 100)) || return 1
  real_layer "$d/2" /usr/lib/x86_64-linux-gnu $((b * 35 / 100)) || return 1
  real_layer "$d/3" /usr/share $((b * 25 / 100)) || return 1
  real_layer "$d/4" /usr/lib $((b * 10 / 100)) /usr/lib/x86_64-linux-gnu || return 1
  mkarchive "$name" "$d/1" "$d/2" "$d/3" "$d/4" && rm -rf "$d"
}

build_rand() {
  local name=rand$RAND_MB per=$((RAND_MB / 3)) d=$WORK/images/rand$RAND_MB.layers i
  say "building $name: 3 layers of $per MB random bytes (cached in $(archive "$name"))"
  rm -rf "$d" && mkdir -p "$d" || return 1
  for i in 1 2 3; do
    mkdir -p "$d/$i/rand" && head -c $((per * 1048576)) /dev/urandom >"$d/$i/rand/r$i.bin" || return 1
    tar -C "$d/$i" --owner=0 --group=0 --numeric-owner --mtime=@1767225600 --format=posix \
      --pax-option=delete=atime,delete=ctime -cf "$d/$i/layer.tar" rand || return 1
    rm -rf "$d/$i/rand"
    echo "ADD r$i.bin ($per MB from /dev/urandom)" >"$d/$i/created_by"
  done
  mkarchive "$name" "$d/1" "$d/2" "$d/3" && rm -rf "$d"
}

# build_deb: one layer, a Debian bookworm minbase root file system as debootstrap makes it (the
# image ../shared/peers measures Docker with), imported whole as `docker import` would take it.
build_deb() {
  local d=$WORK/images/deb.layers root=$DEB_ROOTFS
  if [ ! -x "$root/bin/bash" ]; then
    root=$WORK/debian-minbase
    if [ ! -x "$root/bin/bash" ]; then
      command -v debootstrap >/dev/null || { echo "no Debian root file system: apt-get install debootstrap" >&2; return 1; }
      say "debootstrap --variant=minbase bookworm into $root (once; needs Debian's mirror)"
      rm -rf "$root" && debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 ||
        { tail -5 "$WORK/debootstrap.log" >&2; return 1; }
    fi
  fi
  say "building deb: one layer of the Debian minbase root file system in $root (cached in $(archive deb))"
  rm -rf "$d" && mkdir -p "$d/1" || return 1
  tar -C "$root" --numeric-owner --format=posix --pax-option=delete=atime,delete=ctime -cf "$d/1/layer.tar" . || return 1
  echo "debootstrap --variant=minbase bookworm (imported)" >"$d/1/created_by"
  mkarchive deb "$d/1" && rm -rf "$d"
}

IMAGES=()
for img in ${BENCH_IMAGES:-deb real rand}; do
  case $img in
  deb) [ -f "$(archive deb)" ] || build_deb || die "building the Debian image failed"; IMAGES+=(deb) ;;
  real) [ -f "$(archive "real$REAL_MB")" ] || build_real || die "building the real-files image failed"; IMAGES+=("real$REAL_MB") ;;
  rand) [ -f "$(archive "rand$RAND_MB")" ] || build_rand || die "building the random image failed"; IMAGES+=("rand$RAND_MB") ;;
  *) die "BENCH_IMAGES: unknown image '$img' (deb, real, rand)" ;;
  esac
done
declare -A UNCOMP_MB
for img in "${IMAGES[@]}"; do
  # uncompressed size: the sum of the layer tars
  UNCOMP_MB[$img]=$(tar -tvf "$(archive "$img")" |
    awk -v layers=" $(tar -xOf "$(archive "$img")" manifest.json | jq -r '.[0].Layers | join(" ")') " \
      'index(layers, " " $6 " ") {s += $3} END {printf "%.1f", s / 1048576}')
done

# ---------------------------------------------------------------------------------------------
# Run directory, processes, clean-up.

RUN=$(mktemp -d /var/tmp/berth-xfer.XXXXXX) || die "mktemp"
declare -A PID SOCK
REG_PID=""
cleanup() {
  local e m left
  trap - EXIT INT TERM
  for e in "${!PID[@]}"; do stop_pid "${PID[$e]}"; done
  [ -z "$REG_PID" ] || stop_pid "$REG_PID"
  left=$(mounts_under "$RUN")
  if [ -n "$left" ]; then
    echo "!! mounts left under $RUN after the daemons stopped (unmounting them):"
    echo "$left" | sed 's/^/!!   /'
    for m in $left; do umount "$m" 2>/dev/null || umount -l "$m"; done
  fi
  rm -rf "$RUN"
  [ -z "$(mounts_under "$RUN")" ] || echo "!! mounts still left under $RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port for the registry: one nobody listens on.
PORT=""
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 40000))
  ss -Hltn "sport = :$p" | grep -q . || { PORT=$p; break; }
done
[ -n "$PORT" ] || die "no free port"
REG=127.0.0.1:$PORT
cat >"$RUN/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $RUN/registry
  delete:
    enabled: true
http:
  addr: $REG
EOF
reg_start() {
  "$REGISTRY_BIN" serve "$RUN/registry.yml" >>"$RUN/registry.log" 2>&1 </dev/null &
  REG_PID=$!
  for _ in $(seq 200); do
    curl -sf "http://$REG/v2/" >/dev/null && return 0
    kill -0 "$REG_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "!! docker-registry did not start:"; tail -5 "$RUN/registry.log"; return 1
}
reg_stop() { [ -z "$REG_PID" ] || stop_pid "$REG_PID"; REG_PID=""; }
reg_wipe() { reg_stop; rm -rf "$RUN/registry"; reg_start; }
reg_mb() { du -sm "$RUN/registry/docker/registry/v2/blobs" 2>/dev/null | cut -f1; }
# layer_types REPO:TAG: the distinct media types of the layers of the manifest the registry holds
layer_types() {
  curl -sf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/${1%:*}/manifests/${1##*:}" |
    jq -r '[.layers[].mediaType] | unique | join(", ")' 2>/dev/null || echo "?"
}

start_berthd() {
  local d=$RUN/berthd
  mkdir -p "$d" && echo '{}' >"$d/daemon.json"
  SOCK[berth]=$d/berth.sock
  "$BERTHD" --data-root "$d/root" --exec-root "$d/exec" -H "unix://${SOCK[berth]}" --pidfile "$d/berthd.pid" \
    --config-file "$d/daemon.json" --bridge none >"$d/log" 2>&1 </dev/null &
  PID[berth]=$!
  wait_ping berth 30 || { echo "!! berthd did not start:"; tail -20 "$d/log"; return 1; }
}
start_dockerd() {
  local d=$RUN/dockerd
  mkdir -p "$d" && echo '{}' >"$d/daemon.json"
  SOCK[dockerd]=$d/docker.sock
  "$DOCKERD" --data-root "$d/root" --exec-root "$d/exec" -H "unix://${SOCK[dockerd]}" --pidfile "$d/dockerd.pid" \
    --config-file "$d/daemon.json" --iptables=false --ip-masq=false --bridge=none \
    --insecure-registry "$REG" >"$d/log" 2>&1 </dev/null &
  PID[dockerd]=$!
  wait_ping dockerd 60 || { echo "!! dockerd did not start:"; tail -20 "$d/log"; return 1; }
}

# dk ENGINE ARG... : the docker CLI against ENGINE, with an empty config dir, output to the log.
mkdir -p "$RUN/docker-config"
dk() {
  local e=$1; shift
  DOCKER_HOST="unix://${SOCK[$e]}" DOCKER_CONFIG="$RUN/docker-config" DOCKER_CONTEXT= \
    timeout "$OP_TIMEOUT" "$DOCKER" "$@" >>"$RUN/$e.cli.log" 2>&1
}
# reset ENGINE: no image, blob or layer left (rmi of every image, then prune -a)
reset() {
  local e=$1 ids
  ids=$(DOCKER_HOST="unix://${SOCK[$e]}" DOCKER_CONFIG="$RUN/docker-config" "$DOCKER" images -aq 2>/dev/null | sort -u)
  [ -z "$ids" ] || dk "$e" rmi -f $ids
  dk "$e" image prune -a -f
  ids=$(DOCKER_HOST="unix://${SOCK[$e]}" DOCKER_CONFIG="$RUN/docker-config" "$DOCKER" images -aq 2>/dev/null)
  [ -z "$ids" ] || { echo "!! $e: images left after rmi + prune: $ids"; return 1; }
}

# ---------------------------------------------------------------------------------------------
say "starting docker-registry on $REG, berthd$([ -x "$DOCKERD" ] && echo ", dockerd") in $RUN"
reg_start || die "docker-registry"
ENGINES=()
start_berthd && ENGINES+=(berth) || BERTH_DOWN=1
if [ -x "$DOCKERD" ]; then
  start_dockerd && ENGINES+=(dockerd) || echo "!! dockerd did not start: its figures are n/a"
else
  echo "dockerd: not installed at $DOCKERD (apt-get install docker.io): its figures are n/a"
fi
[ ${#ENGINES[@]} -gt 0 ] || die "no engine started"
VERS="docker CLI $("$DOCKER" --version | awk '{print $3}' | tr -d ,)"
for e in "${ENGINES[@]}"; do
  VERS+=", $e $(DOCKER_HOST="unix://${SOCK[$e]}" DOCKER_CONFIG="$RUN/docker-config" "$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null)"
done
say "versions: $VERS, docker-registry $("$REGISTRY_BIN" --version 2>/dev/null | awk '{print $NF}')"
say "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs; $N runs per operation"

declare -A T FAILED PUSHED_MB  # T[engine/op/image] = run times in ms, space separated
BERTH_FAILED=0
# run ENGINE OP IMAGE SETUP CMD... : SETUP (untimed, a shell function call), then CMD timed.
run() {
  local e=$1 op=$2 img=$3 setup=$4 t0 t1 rc; shift 4
  [ -z "${FAILED[$e/$op/$img]:-}" ] || return 0
  $setup || { echo "   $e: setup for $op failed"; FAILED[$e/$op/$img]=1; return 0; }
  # write back what the setup left dirty (deleted images, the emptied registry), so that a
  # daemon that syncs its own writes is not charged for it
  sync
  t0=$(date +%s%N); dk "$e" "$@"; rc=$?; t1=$(date +%s%N)
  if [ $rc != 0 ]; then
    echo "   $e $op $img: FAILED (exit $rc): docker $*"; tail -5 "$RUN/$e.cli.log" | sed 's/^/      /'
    FAILED[$e/$op/$img]=1; [ "$e" != berth ] || BERTH_FAILED=1
    return 0
  fi
  T[$e/$op/$img]+="$(( (t1 - t0) / 1000000 )) "
}
med() { [ -z "${FAILED[$1]:-}" ] && [ -n "${T[$1]:-}" ] && median "${T[$1]}"; }
report() { # report OP IMAGE
  local e m
  for e in "${ENGINES[@]}"; do
    m=$(med "$e/$1/$2")
    if [ -n "$m" ]; then
      printf '   %-8s %-5s %-8s median %6d ms  %7.1f MB/s   runs: %s\n' "$e" "$1" "$2" "$m" \
        "$(awk -v s="${UNCOMP_MB[$2]}" -v t="$m" 'BEGIN {print s / (t / 1000)}')" "${T[$e/$1/$2]}"
    else
      printf '   %-8s %-5s %-8s n/a (failed)\n' "$e" "$1" "$2"
    fi
  done
}

for img in "${IMAGES[@]}"; do
  say "$img: ${UNCOMP_MB[$img]} MB uncompressed, $(tar -xOf "$(archive "$img")" manifest.json | jq '.[0].Layers | length') layers"
  for e in "${ENGINES[@]}"; do
    reset "$e" && dk "$e" load -q -i "$(archive "$img")" && dk "$e" tag "bench/$img:latest" "$REG/$e/$img:latest" ||
      { echo "!! $e: loading $img failed"; tail -5 "$RUN/$e.cli.log"; FAILED[$e/push/$img]=1 FAILED[$e/load/$img]=1; }
  done

  # A first push: the image freshly loaded (its layers uncompressed, as docker load leaves
  # them), so the engine compresses every layer; then pushes again, where berth sends the
  # compressed copies its first push kept (dockerd compresses every time).
  freshfn() { reg_wipe && reset "$CUR" && dk "$CUR" load -q -i "$(archive "$IMG")" && dk "$CUR" tag "bench/$IMG:latest" "$REG/$CUR/$IMG:latest"; }
  say "$img: first push of the freshly loaded image to an empty registry, $N runs"
  for i in $(seq "$N"); do
    for e in "${ENGINES[@]}"; do
      CUR=$e IMG=$img
      run "$e" push "$img" freshfn push -q "$REG/$e/$img:latest"
      PUSHED_MB[$e]="$(reg_mb) MB of blobs, layers $(layer_types "$e/$img:latest")"
    done
  done
  for e in "${ENGINES[@]}"; do
    [ -n "${FAILED[$e/push/$img]:-}" ] || echo "   $e: the registry holds ${PUSHED_MB[$e]} after its push"
  done
  report push "$img"
  say "$img: push again to an empty registry (the image already pushed once), $N runs"
  for i in $(seq "$N"); do
    for e in "${ENGINES[@]}"; do run "$e" repush "$img" reg_wipe push -q "$REG/$e/$img:latest"; done
  done
  report repush "$img"

  # each engine's own save tarball, for the load runs
  for e in "${ENGINES[@]}"; do
    [ -n "${FAILED[$e/load/$img]:-}" ] || dk "$e" save -o "$RUN/$e-$img.tar" "bench/$img:latest" ||
      { echo "!! $e: docker save failed"; FAILED[$e/load/$img]=1; }
  done

  # the registry content both engines pull: pushed once more, by dockerd if it runs, else berthd
  SRC=""
  for e in dockerd berth; do
    [[ " ${ENGINES[*]} " == *" $e "* ]] || continue
    [ -z "${FAILED[$e/push/$img]:-}" ] || continue
    reg_wipe && dk "$e" push -q "$REG/$e/$img:latest" && { SRC=$e; break; }
  done
  if [ -z "$SRC" ]; then
    echo "!! no engine could push $img: no pull runs"
    for e in "${ENGINES[@]}"; do FAILED[$e/pull/$img]=1; done
  else
    say "$img: cold pull of the image as $SRC pushed it ($(reg_mb) MB of blobs, layers $(layer_types "$SRC/$img:latest")), $N runs"
  fi
  resetfn() { reset "$CUR"; }
  for i in $(seq "$N"); do
    for e in "${ENGINES[@]}"; do CUR=$e; run "$e" pull "$img" resetfn pull -q "$REG/$SRC/$img:latest"; done
  done
  report pull "$img"

  say "$img: load of the engine's own save tarball after removing every image, $N runs"
  for i in $(seq "$N"); do
    for e in "${ENGINES[@]}"; do CUR=$e; run "$e" load "$img" resetfn load -q -i "$RUN/$e-$img.tar"; done
  done
  report load "$img"
  for e in "${ENGINES[@]}"; do reset "$e" >/dev/null 2>&1; rm -f "$RUN/$e-$img.tar"; done
done

# ---------------------------------------------------------------------------------------------
ms() { local m; m=$(med "$1"); [ -n "$m" ] && echo "${m}ms" || echo n/a; }
ratio() { local a b; a=$(med "berth/$1"); b=$(med "dockerd/$1")
  [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}' || echo n/a; }
line() { # line ENGINE: pullR=..ms pushR=.. loadR=.. pullX=.. ...
  local img s op out=""
  for img in "${IMAGES[@]}"; do
    s=${img#real}; s=${s#rand}
    for op in pull push repush load; do out+="$op$s=$(ms "$1/$op/$img") "; done
  done
  echo "${out% }"
}
echo
echo "log: $LOG"
[ -z "${BERTH_DOWN:-}" ] || echo "berthd did not start: its figures are n/a"
if [[ " ${ENGINES[*]} " == *" dockerd "* ]]; then
  dline="dockerd: $(line dockerd)"
  rline=""
  for img in "${IMAGES[@]}"; do
    s=${img#real}; s=${s#rand}
    for op in pull push repush load; do rline+="$op$s=$(ratio "$op/$img") "; done
  done
else
  dline="dockerd: n/a"
  rline="n/a"
fi
echo "image-transfer  $(line berth)  ($dline)"
echo "berth/dockerd   ${rline% }"
[ "$BERTH_FAILED" = 0 ] && [ -z "${BERTH_DOWN:-}" ] || exit 1
exit 0
