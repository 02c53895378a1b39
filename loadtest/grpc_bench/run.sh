#!/usr/bin/env bash
# Starts a grpc-bench server, runs the client at each depth, stops the server.
#   loadtest/grpc_bench/run.sh BIN [SECONDS] [PAYLOAD] [DEPTHS...] -- [server flags] -- [client flags]
# e.g. loadtest/grpc_bench/run.sh build-bench/loadtest/grpc_bench/grpc-bench 3 16 1 64 1024
set -euo pipefail
bin=$1; shift
seconds=${1:-3}; shift || true
payload=${1:-16}; shift || true
depths=()
while [[ $# -gt 0 && $1 != -- ]]; do depths+=("$1"); shift; done
[[ ${#depths[@]} -eq 0 ]] && depths=(1 64 1024)
server_flags=(); client_flags=()
if [[ $# -gt 0 ]]; then shift; while [[ $# -gt 0 && $1 != -- ]]; do server_flags+=("$1"); shift; done; fi
if [[ $# -gt 0 ]]; then shift; client_flags=("$@"); fi

fifo=$(mktemp -u)
mkfifo "$fifo"
# The server stops when its stdin (the fifo's writer, fd 9 here) closes.
"$bin" server --port 0 "${server_flags[@]}" <"$fifo" >"$fifo.out" &
server_pid=$!
exec 9>"$fifo"
trap 'exec 9>&-; wait $server_pid 2>/dev/null; rm -f "$fifo" "$fifo.out"' EXIT
for _ in $(seq 50); do grep -q '^PORT ' "$fifo.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/^PORT /{print $2}' "$fifo.out")
[[ -n $port ]] || { echo "server did not start" >&2; exit 1; }
for depth in "${depths[@]}"; do
  "$bin" client --target "127.0.0.1:$port" --depth "$depth" --seconds "$seconds" \
    --payload "$payload" "${client_flags[@]}"
done
