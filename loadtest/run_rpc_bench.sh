#!/usr/bin/env bash
# Small unary RPCs over loopback, two processes: push's pipelined RPC vs gRPC C++ (async API,
# tuned) vs redis-benchmark's PING as the yardstick from ANCHORS.md, all in one run.
#
#   loadtest/run_rpc_bench.sh [BUILD_DIR] [SECONDS_PER_RUN] [REPETITIONS] [--awake]
#
# --awake runs two nice-19 spinners for the duration: on this VM an idle vCPU halts and waking
# it costs ~100 us, which dominates a loopback round trip; the spinners keep both vCPUs awake
# (like any busy server) while yielding to the benchmark. Both implementations always run
# under the same condition; the script prints which.
#
# Polling: gRPC's completion-queue threads spin (sched_yield between empty polls) before they
# block (grpc_bench/tuning.h, its default); our loops do the same for BUSY_POLL_US after the
# last read (EventLoop::setBusyPoll, default here 1000 us; BUSY_POLL_US=0 sleeps in epoll at
# once, as the services do by default).
#
# Defaults: build-release, 3 s, 3 repetitions (medians reported). Build first with
#   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPUSH_BUILD_TESTS=OFF
#   cmake --build build-release --target rpc-bench grpc-bench
# Prints one line per configuration, then
#   rpc_qps=... grpc_qps=... ratio=...          (64 calls in flight, medians)
#   RESULT rpc_bench rpc_qps=... grpc_qps=... ratio=... ...
set -euo pipefail

build=${1:-build-release}
seconds=${2:-3}
reps=${3:-3}
awake=0
busy_poll_us=${BUSY_POLL_US:-1000}
[ "${4:-}" = "--awake" ] && awake=1
rpc_bench=$build/loadtest/rpc_bench/rpc-bench
grpc_bench=$build/loadtest/grpc_bench/grpc-bench
for b in "$rpc_bench" "$grpc_bench"; do
  [ -x "$b" ] || { echo "missing $b: build it first (see the header of $0)" >&2; exit 2; }
done

tmp=$(mktemp -d)
pids=()
# Servers read a stdin that never ends (grpc-bench exits on EOF on stdin).
mkfifo "$tmp/stdin"
exec 3<>"$tmp/stdin"
# shellcheck source=loadtest/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"  # stop_all, field, median
trap 'stop_all; rm -rf "$tmp"' EXIT

# Starts "$@" (a server that prints "PORT <n>"), waits for the port; sets $port.
start_server() {
  local out=$tmp/server.$RANDOM
  "$@" <&3 >"$out" 2>"$out.err" &
  pids+=($!)
  for _ in $(seq 1 100); do
    port=$(awk '/^PORT/{print $2; exit}' "$out")
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "server $1 did not start: $(cat "$out.err")" >&2
  exit 1
}

declare -A qps p99 p50
run_client() {  # impl depth command...
  local impl=$1 depth=$2
  shift 2
  local lines=$tmp/$impl.$depth
  : >"$lines"
  for _ in $(seq 1 "$reps"); do
    "$@" --depth "$depth" --seconds "$seconds" --payload 16 | tee -a "$lines"
  done
  qps[$impl.$depth]=$(field qps <"$lines" | median)
  p50[$impl.$depth]=$(field p50_us <"$lines" | median)
  p99[$impl.$depth]=$(field p99_us <"$lines" | median)
}

if [ "$awake" -eq 1 ]; then
  for _ in 1 2; do nice -n 19 sh -c 'while :; do :; done' & pids+=($!); done
  condition=awake
else
  condition=idle_cpus
fi
echo "# condition: $condition (see --awake in the header); push busy poll ${busy_poll_us} us, gRPC spins (default)"
echo "# push pipelined RPC ($rpc_bench), one connection"
start_server "$rpc_bench" server --busy-poll-us "$busy_poll_us"
rpc_port=$port
for d in 1 64 1024; do
  run_client push "$d" "$rpc_bench" client --target "127.0.0.1:$rpc_port" --busy-poll-us "$busy_poll_us"
done
peak=${qps[push.64]}
[ "${qps[push.1024]%.*}" -gt "${peak%.*}" ] && peak=${qps[push.1024]}
half=$(awk -v p="$peak" 'BEGIN {printf "%d", p / 2}')
echo "# push at half of peak ($half calls/s, open loop)"
run_client push_half 1024 "$rpc_bench" client --target "127.0.0.1:$rpc_port" --rate "$half" \
  --busy-poll-us "$busy_poll_us"

echo "# gRPC C++ async ($grpc_bench)"
start_server "$grpc_bench" server --port 0
grpc_port=$port
for d in 1 64 1024; do run_client grpc "$d" "$grpc_bench" client --target "127.0.0.1:$grpc_port"; done

redis_line=""
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
  echo "# redis-benchmark PING, one connection (yardstick from ANCHORS.md)"
  rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    >"$tmp/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
  for d in 1 64 1024; do
    n=$((d == 1 ? 100000 : d == 64 ? 3000000 : 8000000))
    : >"$tmp/redis.$d"
    for _ in $(seq 1 "$reps"); do
      r=$(redis-benchmark -p "$rport" -t ping_mbulk -c 1 -P "$d" -n "$n" -q 2>/dev/null |
        sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
      echo "impl=redis depth=$d qps=$r" | tee -a "$tmp/redis.$d"
    done
    qps[redis.$d]=$(field qps <"$tmp/redis.$d" | median)
    redis_line+=" redis_qps_$d=${qps[redis.$d]%.*}"
  done
  # The goal of issue 18: push at least as many calls/s as redis-benchmark, at 64 and 1024.
  for d in 64 1024; do
    redis_line+=" vs_redis_$d=$(awk -v a="${qps[push.$d]}" -v b="${qps[redis.$d]}" \
      'BEGIN {printf "%.2f", a / b}')"
  done
fi

ratio=$(awk -v a="${qps[push.64]}" -v b="${qps[grpc.64]}" 'BEGIN {printf "%.1f", a / b}')
ratio1024=$(awk -v a="${qps[push.1024]}" -v b="${qps[grpc.1024]}" 'BEGIN {printf "%.1f", a / b}')
echo
echo "medians of $reps runs of ${seconds}s:"
for d in 1 64 1024; do
  echo "depth=$d push_qps=${qps[push.$d]} push_p50_us=${p50[push.$d]} push_p99_us=${p99[push.$d]} grpc_qps=${qps[grpc.$d]} grpc_p50_us=${p50[grpc.$d]} grpc_p99_us=${p99[grpc.$d]}"
done
echo "half_peak_rate=$half push_p50_us=${p50[push_half.1024]} push_p99_us=${p99[push_half.1024]}"
echo "rpc_qps=${qps[push.64]} grpc_qps=${qps[grpc.64]} ratio=$ratio"
echo "RESULT rpc_bench condition=$condition busy_poll_us=$busy_poll_us rpc_qps=${qps[push.64]} grpc_qps=${qps[grpc.64]} ratio=$ratio rpc_qps_1024=${qps[push.1024]} grpc_qps_1024=${qps[grpc.1024]} ratio_1024=$ratio1024 rpc_qps_1=${qps[push.1]} grpc_qps_1=${qps[grpc.1]} half_peak_p99_us=${p99[push_half.1024]}$redis_line"
