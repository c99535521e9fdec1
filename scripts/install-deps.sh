#!/usr/bin/env bash
# Installs what building and testing berth needs on a fresh Debian machine: Go (the machine's,
# or Debian's go command fetching the pinned toolchain from the module proxy) and the Debian
# packages the tests use. Safe to re-run; does nothing that is already done.
set -euo pipefail
need=()
command -v busybox >/dev/null 2>&1 || [ -x /bin/busybox ] || need+=(busybox-static)
command -v make >/dev/null 2>&1 || need+=(make)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  need+=(golang-go)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to apt-get install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's go is older than go.mod asks for: let it fetch the pinned toolchain.
if ! [ -x /usr/local/go/bin/go ]; then
  export GOTOOLCHAIN="go$(awk '/^go /{print $2}' go.mod).0+auto"
fi
echo "install-deps: ok ($(PATH=/usr/local/go/bin:$PATH go version))"
