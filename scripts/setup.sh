#!/usr/bin/env bash
# Installs what thanos-fleet's local runtime needs on a Debian machine: packages, npm modules, and the pinned
# binaries the fleet runs (cached under ~/.cache/thanos-fleet/bin, so a second run takes seconds): official
# release archives where the host is reachable, checked against a pinned SHA-256 or the release's checksum
# file, else Go builds from source. The binaries only the tests use (promtool, etcd, kube-apiserver) are
# installed by `npm test` itself (its pretest script), not here.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
command -v openssl >/dev/null || missing+=(openssl)
# The tests only: a real multi-threaded process whose main thread exits first (src/runtimes/local/proc_test.ts).
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing ${missing[*]} from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
npm run binaries -- --for fleet
