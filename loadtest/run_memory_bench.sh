#!/usr/bin/env bash
# Memory per idle connection: push-room with N idle authenticated clients vs redis-server with
# N idle SUBSCRIBE clients, in the same run, on this machine (loopback).
#
#   loadtest/run_memory_bench.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-release. Build first with
#   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPUSH_BUILD_TESTS=OFF
#   cmake --build build-release --target push-load push-room push-register
# Environment: NS="2000 10000 19000" (connection counts; 10000 and 19000 feed the RESULT line).
#
# For each N: a fresh push-register + push-room (1 worker, heartbeat wifi_s 600 so the idle
# clients send no pings during the run, register configured), VmRSS of the room before, then
# ceil(N/9500) `push-load idle` processes (disjoint users and 127.0.x.y source ranges: a
# process may open 20000 files here), wait for every READY, wait until the room's /status
# shows N connections and its VmRSS is stable (two reads 1 s apart within 1%), VmRSS after:
# bytes per connection = (after - before) / N. The same for a fresh redis-server (--save ""
# --appendonly no) with `push-load redis-idle`. VmRSS is user-space memory: the kernel's socket
# memory (~7 KB per loopback pair, ANCHORS.md) is not in it, for either server.
#
# Prints one line per configuration, then
#   RESULT memory_bench push_bytes_per_conn_10k=... push_bytes_per_conn_19k=...
#          redis_bytes_per_conn_10k=... redis_bytes_per_conn_19k=... ratio_19k=...
# Stops every process it started by PID (also on error or Ctrl-C) and removes its temp dir.
set -euo pipefail

build=${1:-build-release}
bin=$build/bin
ns=${NS:-"2000 10000 19000"}
per_proc=9500
for b in push-load push-room push-register; do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b: build it first (see the header of $0)" >&2; exit 2; }
done
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 2; }

tmp=$(mktemp -d /tmp/push-membench.XXXXXX)
pids=()
# shellcheck source=loadtest/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
trap 'stop_all; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE

app=bench
secret=bench-secret-0123456789abcdef
deadline=$((SECONDS + 900))  # the whole run; each wait below is bounded too

fail() { echo "memory_bench: $*" >&2; exit 1; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
anon_kb() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }

# start NAME KEY COMMAND... (sets $line and $pid)

# stop PID...: SIGTERM, wait (bounded), SIGKILL; forgets the PIDs.
stop() {
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  local keep=()
  for p in "${pids[@]}"; do
    local gone=0
    for q in "$@"; do [ "$p" = "$q" ] && gone=1; done
    [ $gone -eq 0 ] && keep+=("$p")
  done
  pids=("${keep[@]}")
}

# Starts ceil(n / per_proc) push-load processes of MODE (idle | redis-idle) against SERVER,
# waits for all READY lines. Source addresses: 127.0.<base + k>.2-127.0.<base + k>.9 for
# process k; user prefixes m<k>u. Sets $loaders (PIDs).
start_loaders() {
  local mode=$1 server=$2 n=$3 base=$4
  local procs=$(((n + per_proc - 1) / per_proc))
  loaders=()
  local k left=$n
  for ((k = 0; k < procs; k++)); do
    local count=$((left / (procs - k)))
    left=$((left - count))
    local net=$((base + k))
    local extra=()
    [ "$mode" = idle ] && extra=(--app "$app" --secret "$secret" --user-prefix "m${k}u")
    "$bin/push-load" "$mode" --server "$server" --connections "$count" \
      --sources "127.0.$net.2-127.0.$net.9" --max-seconds 600 "${extra[@]}" \
      >"$tmp/load.$mode.$n.$k.out" 2>"$tmp/load.$mode.$n.$k.log" &
    pids+=($!)
    loaders+=($!)
  done
  for ((k = 0; k < procs; k++)); do
    local out=$tmp/load.$mode.$n.$k.out
    while :; do
      grep -qs '^READY' "$out" && break
      if grep -qs '^FAILED' "$out"; then fail "push-load $mode: $(grep '^FAILED' "$out")"; fi
      kill -0 "${loaders[$k]}" 2>/dev/null || fail "push-load $mode exited: $(cat "$tmp/load.$mode.$n.$k.log")"
      [ $SECONDS -lt $deadline ] || fail "time is up waiting for READY"
      sleep 0.2
    done
  done
  loader_kb=0
  for p in "${loaders[@]}"; do loader_kb=$((loader_kb + $(rss_kb "$p"))); done
}

# wait_stable PID COUNT_COMMAND N: until COUNT_COMMAND prints >= N and PID's VmRSS moves by
# at most 1% over 1 s (at most 60 s). Sets $rss_after.
wait_stable() {
  local p=$1 count_cmd=$2 n=$3
  local prev
  prev=$(rss_kb "$p")
  for _ in $(seq 1 60); do
    sleep 1
    local now count
    now=$(rss_kb "$p")
    count=$($count_cmd)
    if [ "${count:-0}" -ge "$n" ] && awk -v a="$prev" -v b="$now" 'BEGIN {d = b - a; if (d < 0) d = -d; exit !(d <= a / 100)}'; then
      rss_after=$now
      return 0
    fi
    prev=$now
  done
  fail "pid $p did not settle at $n connections (count $($count_cmd))"
}

declare -A result
cpus=$(nproc)
echo "# memory per idle connection: push-room vs redis-server, user-space VmRSS"
echo "# machine: $cpus cores, everything on this machine over loopback; loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) build=$build"

for n in $ns; do
  # ---- push
  cat >"$tmp/register.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
CONF
  start register RPC_ADDRESS "$bin/push-register" --config "$tmp/register.conf"
  register_pid=$pid
  register=$line
  cat >"$tmp/room.conf" <<CONF
name: "membench"
tcp { address: "127.0.0.1:0" }
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
register { shards { address: "$register" slots: "0-1023" } }
apps { name: "$app" secret: "$secret" }
heartbeat { wifi_s: 600 }
CONF
  start room ROOM "$bin/push-room" --config "$tmp/room.conf" --workers 1
  room_pid=$pid
  room_tcp=$(sed -n 's/.* tcp=\([^ ]*\).*/\1/p' <<<"$line")
  room_admin=$(sed -n 's/.* admin=\([^ ]*\).*/\1/p' <<<"$line")
  sleep 1
  before=$(rss_kb "$room_pid")
  anon_before=$(anon_kb "$room_pid")
  t0=$SECONDS
  start_loaders idle "$room_tcp" "$n" 10
  room_conns() { curl -s "http://$room_admin/status" | sed -n 's/.*"connections":\([0-9]*\).*/\1/p'; }
  wait_stable "$room_pid" room_conns "$n"
  sessions=$(curl -s "http://$room_admin/status" | sed -n 's/.*"sessions":\([0-9]*\).*/\1/p')
  per=$(((rss_after - before) * 1024 / n))
  anon_per=$((($(anon_kb "$room_pid") - anon_before) * 1024 / n))
  result[push.$n]=$per
  echo "impl=push n=$n procs=${#loaders[@]} sessions=$sessions rss_before_kb=$before rss_after_kb=$rss_after bytes_per_conn=$per anon_bytes_per_conn=$anon_per loadgen_rss_kb=$loader_kb setup_s=$((SECONDS - t0))"
  stop "${loaders[@]}"
  kill -INT "$room_pid" 2>/dev/null || true  # SIGINT: stop at once (SIGTERM would drain)
  stop "$room_pid" "$register_pid"

  # ---- redis
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --protected-mode no --save "" --appendonly no --daemonize no \
    --maxclients 19900 >"$tmp/redis.$n.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
  sleep 1
  before=$(rss_kb "$redis_pid")
  anon_before=$(anon_kb "$redis_pid")
  t0=$SECONDS
  start_loaders redis-idle "127.0.0.1:$rport" "$n" 30
  redis_conns() { redis-cli -p "$rport" info clients | sed -n 's/^connected_clients:\([0-9]*\).*/\1/p'; }
  wait_stable "$redis_pid" redis_conns "$n"
  per=$(((rss_after - before) * 1024 / n))
  anon_per=$((($(anon_kb "$redis_pid") - anon_before) * 1024 / n))
  result[redis.$n]=$per
  echo "impl=redis n=$n procs=${#loaders[@]} rss_before_kb=$before rss_after_kb=$rss_after bytes_per_conn=$per anon_bytes_per_conn=$anon_per loadgen_rss_kb=$loader_kb setup_s=$((SECONDS - t0))"
  stop "${loaders[@]}"
  stop "$redis_pid"
done

get() { echo "${result[$1]:-NA}"; }
ratio=NA
if [ -n "${result[push.19000]:-}" ] && [ -n "${result[redis.19000]:-}" ]; then
  ratio=$(awk -v a="${result[redis.19000]}" -v b="${result[push.19000]}" 'BEGIN {printf "%.1f", a / b}')
fi
echo "# goal: <= 1024 bytes per idle authenticated connection (mosquitto ~850 B, redis ~9.9 KB, NATS ~20 KB: ANCHORS.md); ratio = redis / push"
echo "RESULT memory_bench push_bytes_per_conn_10k=$(get push.10000) push_bytes_per_conn_19k=$(get push.19000) redis_bytes_per_conn_10k=$(get redis.10000) redis_bytes_per_conn_19k=$(get redis.19000) ratio_19k=$ratio push_bytes_per_conn_2k=$(get push.2000) redis_bytes_per_conn_2k=$(get redis.2000)"
