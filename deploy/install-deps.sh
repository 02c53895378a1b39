#!/usr/bin/env bash
# Installs every build, test and runtime dependency of push from Debian 12 (bookworm)
# packages. Idempotent: packages already present are skipped by apt. Run as root.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (apt-get needs it)" >&2
  exit 1
fi

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang-format
  # libraries (docs/ARCHITECTURE.md §4)
  libuv1-dev libprotobuf-dev protobuf-compiler libspdlog-dev libfmt-dev libssl-dev
  node-llhttp libwslay-dev libcurl4-openssl-dev libhiredis-dev libmysqlcppconn-dev
  libzookeeper-mt-dev zlib1g-dev libsnappy-dev libgtest-dev libgmock-dev libbenchmark-dev libjemalloc-dev
  # gRPC, only as the baseline of loadtest/rpc_bench
  libgrpc++-dev protobuf-compiler-grpc
  # servers for tests and the local cluster
  redis-server redis-tools mariadb-server zookeeper
  # nginx: the static-file baseline of loadtest/run_route_bench.sh
  nginx-light
  # tools the scripts use
  curl python3 procps iproute2
  # headless browser: tests open the HTML reports (push-loadtest) and check what rendered
  chromium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps.sh: all ${#packages[@]} packages present"
else
  echo "install-deps.sh: installing ${missing[*]}"
  apt-get update -q
  apt_updated=1
  # Do not let the packaged servers start system-wide instances: tests and the local cluster start
  # their own on free ports. policy-rc.d exit 101 = "action forbidden" for invoke-rc.d.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ "$created_policy" -eq 1 ] && rm -f "$policy"
  echo "install-deps.sh: done"
fi

# node and npm, for tests/interop (the npm client nsqjs). Any node >= 12 with its npm will do, so
# Debian's packages are installed only when a command is missing: a node from elsewhere (such as
# nodesource's nodejs, which bundles npm) conflicts with Debian's npm package.
node_missing=()
command -v node >/dev/null 2>&1 || node_missing+=(nodejs)
command -v npm >/dev/null 2>&1 || node_missing+=(npm)
if [ ${#node_missing[@]} -gt 0 ]; then
  echo "install-deps.sh: installing ${node_missing[*]}"
  [ "$apt_updated" -eq 1 ] || apt-get update -q
  apt-get install -y -q --no-install-recommends "${node_missing[@]}"
fi
