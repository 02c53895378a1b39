#!/usr/bin/env bash
# Unicast pushes end to end: operator HTTP API (center) -> register lookup -> room Deliver ->
# client -> Ack, on this machine (loopback), with the load generator on the same cores.
#
#   loadtest/run_unicast_bench.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-release. Build first with
#   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPUSH_BUILD_TESTS=OFF
#   cmake --build build-release --target push-load push-room push-register push-center push-tcp-floor
# Environment: SECONDS_PER_RUN (default 8), CONFIGS (closed-loop "CxD" list, default
# "2x16 4x8 8x8 16x8 32x16"), USERS (default 1000), CENTER_WORKERS and ROOM_WORKERS (processes
# of each, default 2 and 1: center is a stateless tier, one process per core), BUSY_POLL_US
# (--busy-poll-us of center and register, default 0), BATCH (pushes per request, default 1; more
# posts /v1/push/batch: the rates and counts stay in pushes), ROOM_BUSY_POLL_US (the room's, default
# 0), ROOM_GATHER_US and LOADGEN_GATHER_US (--input-gather-us of the room and of push-load: after
# a loop turn that read, sleep that long before polling again; default 0), OPEN_RATE (the
# open-loop rate instead of half of the best closed-loop one, e.g. 50000 for the goal's "half of
# 100k"), OPEN_HTTP (HTTP connections of the open-loop run, default 16), OPEN_RUNS (open-loop
# runs, default 3; RESULT takes the one with the median p99).
#
# Starts push-register, push-room and push-center (app rate limit 10M/s, so it
# never limits), then `push-load unicast` with USERS client connections that ack every push:
# closed loop for each C (keep-alive HTTP connections to center) x D (pipelined requests per
# connection), then open loop at half of the best closed-loop rate, for the latency at a load
# the system can carry. Each run prints push-load's line plus the CPU each process used
# during the measured window (fraction of one core, from /proc/<pid>/stat), then
#   RESULT unicast_bench msg_per_s=... p50_ms=... p99_ms=... half_rate=... half_p50_ms=... half_p99_ms=...
# msg_per_s counts pushes received by the clients. First, before any server starts, it runs
# push-tcp-floor with as many connections: the kernel's own cost of a push and its ack over
# loopback (raw epoll, no framing, no center or register), whose msg_per_s is the ceiling for
# this machine; RESULT carries it as floor_msg_per_s and msg_per_s / floor as floor_ratio.
# Stops everything it started, by PID.
set -euo pipefail

build=${1:-build-release}
bin=$build/bin
seconds=${SECONDS_PER_RUN:-8}
configs=${CONFIGS:-"2x16 4x8 8x8 16x8 32x16"}
users=${USERS:-1000}
center_workers=${CENTER_WORKERS:-2}
room_workers=${ROOM_WORKERS:-1}
busy_poll_us=${BUSY_POLL_US:-0}
room_busy_poll_us=${ROOM_BUSY_POLL_US:-0}
room_gather_us=${ROOM_GATHER_US:-0}
loadgen_gather_us=${LOADGEN_GATHER_US:-0}
open_http=${OPEN_HTTP:-16}
open_runs=${OPEN_RUNS:-3}
batch=${BATCH:-1}
for b in push-load push-room push-register push-center push-tcp-floor; do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b: build it first (see the header of $0)" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/push-unibench.XXXXXX)
pids=()
# shellcheck source=loadtest/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
trap 'stop_all; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE

fail() { echo "unicast_bench: $*" >&2; exit 1; }

# start NAME KEY COMMAND... (sets $line and $pid)

echo "# baseline: push-tcp-floor, $users loopback connections, one push + one ack each, raw epoll"
# In the background and in $pids, like every process here, so a TERM to this script stops it.
"$bin/push-tcp-floor" --connections "$users" --window 64 --seconds "$seconds" \
  --sources 127.0.0.2-127.0.0.9 >"$tmp/floor.out" &
floor_pid=$!
pids+=("$floor_pid")
floor_rc=0
wait "$floor_pid" || floor_rc=$?
pids=()  # reaped: its PID may be reused, so stop_all must not signal it
[ "$floor_rc" -eq 0 ] || fail "push-tcp-floor failed (exit $floor_rc)"
floor_line=$(cat "$tmp/floor.out")
echo "$floor_line"
floor=$(sed -n 's/.* msg_per_s=\([0-9]*\).*/\1/p' <<<"$floor_line")

app=bench
secret=bench-secret-0123456789abcdef
api_key=bench-api-key-0123456789abcdef

cat >"$tmp/register.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
CONF
start register RPC_ADDRESS "$bin/push-register" --config "$tmp/register.conf" --busy-poll-us "$busy_poll_us"
register_pid=$pid
register=$line
cat >"$tmp/room.conf" <<CONF
name: "unibench"
tcp { address: "127.0.0.1:0" }
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
register { shards { address: "$register" slots: "0-1023" } }
apps { name: "$app" secret: "$secret" }
CONF
start room ROOM "$bin/push-room" --config "$tmp/room.conf" --workers "$room_workers" \
  --busy-poll-us "$room_busy_poll_us" --input-gather-us "$room_gather_us"
room_pid=$pid
room_tcp=$(sed -n 's/.* tcp=\([^ ]*\).*/\1/p' <<<"$line")
cat >"$tmp/center.conf" <<CONF
http { listen { address: "127.0.0.1:0" } }
register { shards { address: "$register" slots: "0-1023" } }
apps { name: "$app" api_keys: "$api_key" push_rate_per_s: 10000000 push_burst: 10000000 }
CONF
start center HTTP_ADDRESS "$bin/push-center" --config "$tmp/center.conf" --workers "$center_workers" \
  --busy-poll-us "$busy_poll_us"
center_pid=$pid
center=$line

hz=$(getconf CLK_TCK)

# run_load NAME FLAGS...: one push-load unicast run; prints its line with the servers' CPU
# during the measured window appended; sets $last. The script blocks on push-load's stdout
# instead of polling: a polling loop of grep/sleep processes used ~10% of these 2 cores.
run_load() {
  local name=$1
  shift
  local out=$tmp/load.$name.out
  local load_avg
  load_avg=$(cut -d' ' -f1 /proc/loadavg)
  local a_room="" a_center="" a_reg="" t_a="" b_room="" b_center="" b_reg="" t_b="" l
  last=""
  # push-load writes into a FIFO, started in the background and kept in $pids so that a TERM to
  # this script (trap -> exit -> stop_all) stops it too; a process substitution would be left
  # running.
  local fifo=$tmp/load.$name.fifo
  mkfifo "$fifo"
  "$bin/push-load" unicast --center "$center" --api-key "$api_key" --app "$app" \
    --secret "$secret" --room "$room_tcp" --users "$users" --seconds "$seconds" \
    --sources 127.0.0.2-127.0.0.9 --max-seconds $((seconds + 60)) --batch "$batch" \
    --input-gather-us "$loadgen_gather_us" "$@" >"$fifo" 2>"$tmp/load.$name.log" &
  local lp=$!
  pids=("$lp" "${pids[@]}")  # stopped first: clients before servers
  while IFS= read -r l; do
    echo "$l" >>"$out"
    case $l in
      MEASURING)
        a_room=$(ticks "$room_pid"); a_center=$(ticks "$center_pid"); a_reg=$(ticks "$register_pid")
        t_a=$(date +%s.%N) ;;
      MEASURED)
        b_room=$(ticks "$room_pid"); b_center=$(ticks "$center_pid"); b_reg=$(ticks "$register_pid")
        t_b=$(date +%s.%N) ;;
      impl=push*) last=$l ;;
    esac
  done <"$fifo"
  local rc=0
  wait "$lp" || rc=$?
  pids=("${pids[@]:1}")  # reaped, as above
  rm -f "$fifo"  # the same config may run again
  [ "$rc" -eq 0 ] || fail "push-load $name failed (exit $rc): $(cat "$tmp/load.$name.log")"
  [ -n "$last" ] || fail "push-load $name printed no result"
  local cpu=""
  if [ -n "$b_room" ]; then
    cpu=$(awk -v r=$((b_room - a_room)) -v c=$((b_center - a_center)) -v g=$((b_reg - a_reg)) \
      -v hz="$hz" -v t="$t_a" -v u="$t_b" \
      'BEGIN {d = (u - t) * hz; printf " cpu_room=%.2f cpu_center=%.2f cpu_register=%.2f", r / d, c / d, g / d}')
  fi
  last="$last$cpu loadavg=$load_avg"
  echo "$last"
}

echo "# unicast: POST /v1/push (one user each) -> center -> register -> room -> client ack"
echo "# machine: $(nproc) cores shared by center, room, register AND the load generator (all on"
echo "#   this machine, loopback); other users' work may run too: loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) build=$build users=$users seconds=$seconds center_workers=$center_workers room_workers=$room_workers busy_poll_us=$busy_poll_us room_busy_poll_us=$room_busy_poll_us room_gather_us=$room_gather_us loadgen_gather_us=$loadgen_gather_us"
echo "# cpu_* = cores used in the window (all workers of a service together)"

best=0
best_line=""
for cfg in $configs; do
  c=${cfg%x*}
  d=${cfg#*x}
  run_load "closed.$cfg" --http-connections "$c" --depth "$d"
  rate=$(field msg_per_s <<<"$last")
  if [ "${rate%.*}" -gt "$best" ]; then
    best=${rate%.*}
    best_line=$last
  fi
done
[ "$best" -gt 0 ] || fail "no closed-loop run delivered anything"

half=$((best / 2))
if [ -n "${OPEN_RATE:-}" ]; then
  half=$OPEN_RATE
  echo "# open loop at OPEN_RATE: $half requests/s"
else
  echo "# open loop at half of the best closed-loop rate: $half requests/s"
fi
# The open-loop run is repeated (OPEN_RUNS, default 3): a p99 of milliseconds on shared
# cores moves a lot from run to run; RESULT holds the run with the median p99 and every p99.
half_runs=()
for i in $(seq 1 "$open_runs"); do
  run_load "open.half.$i" --http-connections "$open_http" --depth 64 --rate "$half"
  half_runs+=("$(field p99_ms <<<"$last") $i $last")
done
median=$(printf '%s\n' "${half_runs[@]}" | sort -n -k1,1 | sed -n "$(((open_runs + 1) / 2))p")
half_line=${median#* * }
half_p99s=$(printf '%s\n' "${half_runs[@]}" | cut -d' ' -f1 | paste -sd/)
half_errors=0
for r in "${half_runs[@]}"; do half_errors=$((half_errors + $(field errors <<<"$r"))); done

echo "# goal (issue 3): >= 100000 msg/s, p99 < 10 ms at half of that rate, all on these $(nproc) cores"
echo "RESULT unicast_bench msg_per_s=$best p50_ms=$(field p50_ms <<<"$best_line") p99_ms=$(field p99_ms <<<"$best_line") half_rate=$half half_p50_ms=$(field p50_ms <<<"$half_line") half_p99_ms=$(field p99_ms <<<"$half_line") half_msg_per_s=$(field msg_per_s <<<"$half_line") half_skipped=$(field skipped <<<"$half_line") half_p99_runs_ms=$half_p99s floor_msg_per_s=$floor floor_ratio=$(awk -v a="$best" -v b="$floor" 'BEGIN {printf "%.2f", a / b}') errors=$(($(field errors <<<"$best_line") + half_errors))"
