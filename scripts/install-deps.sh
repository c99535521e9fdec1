#!/usr/bin/env bash
# Installs what building and testing berth needs on a fresh Debian (bookworm) machine of this
# kind (Go is expected at /usr/local/go or on PATH): the Debian packages the tests, the demo and
# the benchmarks use. A test whose peer tool is missing skips and names the package; this script
# installs them all. Safe to re-run: it checks for each binary first and calls apt-get only for
# what is missing, so it is quick when everything is there.
#
# Installing docker.io or podman must not start their services (a running dockerd would be a
# second engine on the machine, which the tests and benchmarks do not want): while apt-get runs,
# /usr/sbin/policy-rc.d refuses every service start, and is removed afterwards if this script
# made it.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH:/usr/sbin:/sbin
if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: no Go toolchain found; install Go $(awk '/^go /{print $2}' "$(dirname "$0")/../go.mod") or newer" >&2
  exit 1
fi

# want BINARY PACKAGE: installs PACKAGE unless BINARY (a path, or a name on PATH) is there.
need=()
want() {
  case $1 in
    /*) [ -e "$1" ] && return ;;
    *) command -v "$1" >/dev/null 2>&1 && return ;;
  esac
  need+=("$2")
}
# Building and the test harness.
want /bin/busybox busybox-static # the root file system of test containers and images
want make make
want jq jq
want ps procps
want ip iproute2
want tar tar
want curl curl
want nft nftables # tests read berth's nftables table back (berth itself talks netlink)
want docker-compose docker-compose            # e2e: compose projects (networks, names, ports) against berthd
want /usr/lib/python3/dist-packages/docker/__init__.py python3-docker # e2e: the Python SDK against berthd
# Peers the tests and benchmarks compare berth with, or move images to and from.
want /usr/bin/docker-registry docker-registry # pull/push tests (internal/distribution, test/e2e)
want htpasswd apache2-utils                   # the registry's basic auth in those tests
want /usr/sbin/dockerd docker.io              # interop and benchmarks: a private dockerd
want podman podman                            # interop: podman load/save
want skopeo skopeo                            # interop: image archives, layouts, registries
want umoci umoci                              # OCI layout interop (internal/image/imagearchive)
want runc runc                                # runtime conformance and benchmarks
want crun crun
want newuidmap uidmap                         # user namespace mappings (podman, rootless peers)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to apt-get install ${need[*]}" >&2
    exit 1
  fi
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# made by berth scripts/install-deps.sh while it installs packages\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The e2e suite drives berthd with Docker's own CLI (28.x), which Debian does not package
# (docker.io's CLI is 20.10); it is the static binary from download.docker.com.
if [ ! -x /usr/local/bin/docker ]; then
  echo "install-deps: note: no docker CLI at /usr/local/bin/docker; test/e2e skips without it" \
    "(get docker-28.x.tgz from https://download.docker.com/linux/static/stable/)" >&2
fi
echo "install-deps: ok ($(go version))"
