#!/usr/bin/env bash
# Runs the platform on this machine from a build directory, shows a short demo, and stops
# everything it started (by PID) unless --stay is given.
#
#   deploy/run-local.sh [--build DIR] [--stay]
#
# What runs today (it grows with each service): push-echo-server, the RPC layer's demo
# server, called by push-echo-client. Logs and state go to a temporary run directory that is
# printed at the start.
set -euo pipefail

build=build
stay=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --stay) stay=1; shift ;;
    *) echo "usage: $0 [--build DIR] [--stay]" >&2; exit 2 ;;
  esac
done
bin=$build/bin
[ -x "$bin/push-echo-server" ] || { echo "no binaries in $bin: build first (see README.md)" >&2; exit 2; }

run=$(mktemp -d /tmp/push-run.XXXXXX)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop_all EXIT
echo "run directory: $run (logs)"

# start NAME COMMAND...: starts a service, waits for its "<KEY> <host:port>" line.
start() {
  local name=$1 key=$2
  shift 2
  "$@" >"$run/$name.out" 2>"$run/$name.log" &
  pids+=($!)
  for _ in $(seq 1 200); do
    addr=$(awk -v k="$key" '$1 == k {print $2; exit}' "$run/$name.out")
    if [ -n "$addr" ]; then
      echo "started $name (pid ${pids[-1]}) on $addr"
      return 0
    fi
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "$name failed to start; its log:" >&2
  cat "$run/$name.log" >&2
  exit 1
}

start echo-a RPC_ADDRESS "$bin/push-echo-server" --listen 127.0.0.1:0 --server-id echo-a
echo_a=$addr
start echo-b RPC_ADDRESS "$bin/push-echo-server" --listen 127.0.0.1:0 --server-id echo-b
echo_b=$addr

echo
echo "== demo: 4 pipelined RPCs, round robin over two echo servers =="
"$bin/push-echo-client" --server "$echo_a,$echo_b" --message "hello push" --count 4

if [ "$stay" -eq 1 ]; then
  echo
  echo "running; try: $bin/push-echo-client --server $echo_a --message hi"
  echo "press Ctrl-C to stop"
  wait
fi
echo
echo "demo done; stopping"
