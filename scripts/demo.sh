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

# The daemon (issue 3 so far): start berthd on a private root and socket, import the same
# root file system as an image and look at it with berth's client (the docker CLI works too).
BERTHD=${BERTHD:-$(command -v berthd || echo bin/berthd)}
BERTH=${BERTH:-$(command -v berth || echo bin/berth)}
D=$W/daemon
mkdir -p "$D"
"$BERTHD" --data-root "$D/root" --exec-root "$D/exec" -H "unix://$D/berth.sock" \
  --pidfile "$D/berthd.pid" --config-file /dev/null \
  --bridge berthdemo0 --firewall-table berth-demo --cgroup-parent /berth-demo 2>"$D/berthd.log" &
BERTHD_PID=$!
# The demo's daemon goes with it, and with it what a daemon keeps for its next start (its
# bridge, its nftables table, its cgroup parent): a demo leaves nothing behind.
cleanup() {
  kill $BERTHD_PID 2>/dev/null
  wait $BERTHD_PID 2>/dev/null
  ip link del berthdemo0 2>/dev/null
  command -v nft >/dev/null && nft delete table inet berth-demo 2>/dev/null
  for c in /sys/fs/cgroup/*/berth-demo; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT
export BERTH_HOST=unix://$D/berth.sock
for _ in $(seq 1 100); do "$BERTH" version >/dev/null 2>&1 && break; sleep 0.05; done
tar -C "$B/rootfs" -cf "$W/rootfs.tar" .
echo "+ berth import --change 'CMD [\"sh\"]' rootfs.tar demo/busybox:latest"
"$BERTH" import --change 'CMD ["sh"]' "$W/rootfs.tar" demo/busybox:latest
echo "+ berth images"
"$BERTH" images
echo "+ berth history demo/busybox"
"$BERTH" history demo/busybox

# Containers (issue 4): run the image through berthd, with berth's CLI and with the docker CLI.
echo "+ berth run --rm demo/busybox sh -c 'echo hello from a berth container; hostname; id'"
"$BERTH" run --rm demo/busybox sh -c 'echo hello from a berth container; hostname; id'
echo "+ berth run -d --name ticker demo/busybox sh -c 'while true; do date; sleep 1; done'"
"$BERTH" run -d --name ticker demo/busybox sh -c 'while true; do date; sleep 1; done'
sleep 1.5
echo "+ berth ps"
"$BERTH" ps
echo "+ berth exec ticker ps"
"$BERTH" exec ticker ps
echo "+ berth logs ticker"
"$BERTH" logs ticker
echo "+ berth rm -f ticker"
"$BERTH" rm -f ticker
DOCKER=${DOCKER:-$(command -v /usr/local/bin/docker || command -v docker || true)}
if [ -n "$DOCKER" ]; then
  echo "+ docker run --rm demo/busybox echo hello through the docker CLI   (DOCKER_HOST=$BERTH_HOST)"
  DOCKER_HOST=$BERTH_HOST "$DOCKER" run --rm demo/busybox echo hello through the docker CLI
fi

# Networking (issue 5): a web server in a berth container on a published port, answering
# the host. berthd made the default bridge berth0 with outbound NAT; the port is a rule in
# berth's nftables table, no proxy process.
PORT=${DEMO_PORT:-8080}
echo "+ berth run -d --name web -p $PORT:80 demo/busybox sh -c 'echo hello from a berth web server > /www/index.html; httpd -f -p 80 -h /www'"
"$BERTH" run -d --name web -p "$PORT:80" demo/busybox sh -c 'mkdir -p /www && echo hello from a berth web server > /www/index.html && exec httpd -f -p 80 -h /www'
echo "+ berth port web"
"$BERTH" port web
echo "+ curl http://127.0.0.1:$PORT/"
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$PORT/" 2>/dev/null && break; sleep 0.1; done
echo "+ berth rm -f web"
"$BERTH" rm -f web
