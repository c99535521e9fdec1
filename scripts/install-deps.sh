#!/usr/bin/env bash
# Installs what building and testing berth needs on a fresh Debian machine of this kind
# (Go is expected at /usr/local/go or on PATH) and the Debian packages the tests and the
# demo use. Safe to re-run; does nothing that is already done.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: no Go toolchain found; install Go $(awk '/^go /{print $2}' "$(dirname "$0")/../go.mod") or newer" >&2
  exit 1
fi
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
command -v make >/dev/null 2>&1 || need+=(make)
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v ps >/dev/null 2>&1 || need+=(procps)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to apt-get install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "install-deps: ok ($(go version))"
