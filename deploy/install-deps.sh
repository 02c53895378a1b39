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
  # tools the scripts use
  curl python3 procps iproute2
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps.sh: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
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
