#!/usr/bin/env bash
# The main job for now: make a busybox bundle and run a container that prints its
# isolated view (hostname, pid 1, processes, mounts) with berth-runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNTIME=${RUNTIME:-$(command -v berth-runtime || echo bin/berth-runtime)}
W=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$W"' EXIT
B=$W/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/etc" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev" "$B/rootfs/tmp"
cp /bin/busybox "$B/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$B/rootfs/bin/$applet" ] || ln -s busybox "$B/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$B/rootfs/etc/passwd"
"$RUNTIME" spec --bundle "$B"
jq '.process.terminal = false | .hostname = "berth-demo" |
    .process.args = ["sh", "-c", "echo \"hostname: $(hostname)\"; echo \"my pid: $$\"; echo processes:; ps -o pid,user,args; echo mounts:; cat /proc/mounts"]' \
  "$B/config.json" > "$B/config.json.new" && mv "$B/config.json.new" "$B/config.json"
echo "+ $RUNTIME run --bundle $B berth-demo-$$"
"$RUNTIME" run --bundle "$B" "berth-demo-$$"
