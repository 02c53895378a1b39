#!/usr/bin/env bash
# Broadcast fan-out end to end: operator POST /v1/broadcast (center) -> push-queued topic
# bcast.<app> -> push-room (one channel per room instance) -> every connected client, next to
# Redis pub/sub fanning the same 256-byte messages out to as many subscribers, driven by the
# same load generator, and the raw-epoll coalesced floor (ANCHORS.md), all in one run.
#
#   loadtest/run_broadcast_bench.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-release. Build first with
#   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPUSH_BUILD_TESTS=OFF
#   cmake --build build-release --target push-load push-room push-register push-center \
#     push-queued push-broadcast-floor
# Environment (defaults in brackets):
#   WORKERS ["1 2"]        room workers (and Redis processes) per configuration
#   NS ["10000 19000"]     clients per room worker (per Redis process), ascending: the clients
#                          of one WORKERS value are added to, not reconnected
#   DELIVERIES [8000000]   deliveries per throughput run: broadcasts = DELIVERIES / clients
#                          (at least 100)
#   LAT_RATE [10]          broadcasts/s of the latency run, the same for the room and Redis
#                          (10/s x 38000 clients = 380k deliveries/s: below both capacities),
#                          or "half": half of that configuration's throughput run ...
#   LAT_SECONDS [3]        ... for this long
#   PERF [0]               1: perf record the room (all workers) and the receiving push-load
#                          processes for 2 s of each push throughput run; the top symbols
#                          (self time, by process name) go to stdout as "# perf" lines
#   WINDOW [64]            broadcasts in flight at the publisher (center answers after queued)
#   ROOM_RATE [100000000]  room broadcast_rate_per_s (pacing; the maximum: measure capacity)
#   MAX_IN_FLIGHT [256]    room broadcast_max_in_flight (the room's default)
#   IMPLS ["push redis floor"]  which parts run (a subset for a quick look)
#   PER_PROC [9500]        clients per push-load process (a process may open 20000 files)
#   QUIET_MS [1500]        a run is over once the publisher is done and no receiver read
#                          anything for this long
#
# For each WORKERS value W: push-register, push-queued, push-room --workers W (queued set,
# broadcast_rate_per_s ROOM_RATE) and push-center (app broadcast rate limit 1M/s, so it never
# answers 429). For each N of NS: push-load broadcast receiver processes (PER_PROC clients
# each, disjoint users, sources 127.0.(10+k).2-9) until N * W clients are authenticated, then
#  - throughput run: one publisher process sends B = DELIVERIES / (N * W) broadcasts of 256
#    bytes (qos 0) with WINDOW in flight; the room consumes them at its own pace;
#  - latency run: the publisher at LAT_RATE broadcasts/s for LAT_SECONDS (a load both the room
#    and Redis carry, so the figure is transit, not queueing behind a backlog).
# Each receiver process counts every broadcast per client exactly (a bit per client per
# broadcast: duplicates and losses are exact) and writes one line per broadcast (send time,
# first and last receipt) for the run; the script merges them over the processes:
#   deliveries_per_s = unique deliveries / (last receipt anywhere - first API call)
#   last_p50/p99_ms  = over broadcasts, from the API call to the LAST client that got it
#   lost = clients * broadcasts center accepted - unique deliveries; dups = second copies
# and prints the cores each process used over the run (from /proc/<pid>/stat, workers
# summed). Right after each W's push runs, the same with Redis 7 (W redis-server processes on
# free ports, --save "", N subscribers each; the publisher PUBLISHes every message to each of
# them, pipelined, the same WINDOW in flight): back to back, so that other work on the shared
# cores moves as little as possible between the two halves of a ratio. Then
# push-broadcast-floor (raw epoll, frames coalesced into one
# write() per subscriber per pass) with N = each of NS and as many broadcasts as the
# throughput run, received by push-load raw-broadcast.
#
# Ends with
#   RESULT broadcast_bench deliveries_per_s=<W max, N max> redis_per_s=<same config> ratio=
#   floor_per_s=<N max> last_client_p50_ms= last_client_p99_ms= ... (every config's figures)
# Bounded: each wait has a deadline, every process has --max-seconds. Stops everything it
# started by PID (also on error or Ctrl-C). Takes ~2.5 min with the defaults (2.4-2.7 min
# measured on the shared 2 cores).
set -euo pipefail

build=${1:-build-release}
bin=$build/bin
workers_list=${WORKERS:-"1 2"}
ns=${NS:-"10000 19000"}
deliveries=${DELIVERIES:-8000000}
lat_rate=${LAT_RATE:-10}
perf_on=${PERF:-0}
lat_seconds=${LAT_SECONDS:-3}
window=${WINDOW:-64}
room_rate=${ROOM_RATE:-100000000}
max_in_flight=${MAX_IN_FLIGHT:-256}
impls=" ${IMPLS:-push redis floor} "
per_proc=${PER_PROC:-9500}
quiet_ms=${QUIET_MS:-1500}
for b in push-load push-broadcast-floor; do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b: build it first (see the header of $0)" >&2; exit 2; }
done
if [[ " ${IMPLS:-push} " == *" push "* ]]; then
  for b in push-room push-register push-center push-queued; do
    [ -x "$bin/$b" ] || { echo "missing $bin/$b: build it first (see the header of $0)" >&2; exit 2; }
  done
fi
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 2; }
command -v redis-cli >/dev/null || { echo "redis-cli is not installed" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 2; }

tmp=$(mktemp -d /tmp/push-bcastbench.XXXXXX)
pids=()
# shellcheck source=loadtest/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
trap 'stop_all; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE

fail() { echo "broadcast_bench: $*" >&2; exit 1; }

app=bench
secret=bench-secret-0123456789abcdef
api_key=bench-api-key-0123456789abcdef
hz=$(getconf CLK_TCK)

# stop PID...: SIGTERM, wait (bounded), SIGKILL; forgets the PIDs.
stop() {
  local p q
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
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

# ---- receivers: push-load processes, each with its own round counter
recv_pids=()    # PIDs
recv_outs=()    # stdout files
recv_rounds=()  # rounds each has printed so far
recv_clients=0
recv_seq=0

# add_receivers MODE SERVER TARGET: starts push-load MODE processes (PER_PROC clients at most
# each) against SERVER until it has TARGET clients of ours, waits for their READY.
declare -A on_server
add_receivers() {
  local mode=$1 server=$2 target=$3
  local started=() server_flag=--server extra=()
  [ "$mode" = broadcast ] && server_flag=--room
  while [ "${on_server[$server]:-0}" -lt "$target" ]; do
    local left=$((target - ${on_server[$server]:-0}))
    local count=$((left < per_proc ? left : per_proc))
    local k=$recv_seq
    recv_seq=$((recv_seq + 1))
    local net=$((10 + k % 200))
    local out=$tmp/recv.$k.out
    extra=()
    [ "$mode" = broadcast ] && extra=(--app "$app" --secret "$secret" --user-prefix "r${k}u")
    "$bin/push-load" "$mode" "$server_flag" "$server" --clients "$count" \
      --sources "127.0.$net.2-127.0.$net.9" --report "$tmp/report.$k" --max-seconds 900 \
      --await-signal --quiet-ms "$quiet_ms" \
      "${extra[@]}" >"$out" 2>"$tmp/recv.$k.log" &
    pids+=($!)
    recv_pids+=($!)
    recv_outs+=("$out")
    recv_rounds+=(0)
    started+=($((${#recv_pids[@]} - 1)))
    recv_clients=$((recv_clients + count))
    on_server[$server]=$((${on_server[$server]:-0} + count))
  done
  local deadline=$((SECONDS + 120)) i
  for i in "${started[@]}"; do
    while :; do
      grep -qs '^READY' "${recv_outs[$i]}" && break
      if grep -qs '^FAILED' "${recv_outs[$i]}"; then fail "push-load $mode: $(grep '^FAILED' "${recv_outs[$i]}")"; fi
      kill -0 "${recv_pids[$i]}" 2>/dev/null || fail "push-load $mode exited: $(tail -3 "${recv_outs[$i]%.out}.log")"
      [ $SECONDS -lt $deadline ] || fail "time is up waiting for READY of $mode"
      sleep 0.2
    done
  done
}

stop_receivers() {
  [ ${#recv_pids[@]} -eq 0 ] || stop "${recv_pids[@]}"
  on_server=()
  recv_pids=()
  recv_outs=()
  recv_rounds=()
  recv_clients=0
}

# await_round: tells every receiver that the publisher is done (SIGUSR1: the round ends once
# nothing came for --quiet-ms), waits for their round lines, merges their reports into
# $tmp/merged.in (one line per broadcast and process: number sent first last unique dups) and
# sets $recv_cpu_s (their CPU over the round, seconds).
await_round() {
  local i p deadline=$((SECONDS + 90))
  for p in "${recv_pids[@]}"; do kill -USR1 "$p" 2>/dev/null || true; done
  for i in "${!recv_pids[@]}"; do
    local want=$((recv_rounds[i] + 1))
    while ! grep -qs "role=receiver round=$want " "${recv_outs[$i]}"; do
      kill -0 "${recv_pids[$i]}" 2>/dev/null || fail "receiver ${recv_pids[$i]} exited: $(tail -3 "${recv_outs[$i]%.out}.log")"
      [ $SECONDS -lt $deadline ] || fail "receiver ${recv_pids[$i]} printed no round $want"
      sleep 0.2
    done
  done
  : >"$tmp/merged.in"
  recv_cpu_s=0
  for i in "${!recv_pids[@]}"; do
    recv_rounds[i]=$((recv_rounds[i] + 1))
    local k=${recv_outs[$i]#"$tmp/recv."}
    k=${k%.out}
    cat "$tmp/report.$k.${recv_rounds[$i]}" >>"$tmp/merged.in" 2>/dev/null || true
    local l
    l=$(grep "role=receiver round=${recv_rounds[$i]} " "${recv_outs[$i]}")
    recv_cpu_s=$(awk -v a="$recv_cpu_s" -v b="$(field loadgen_cpu_s <<<" $l")" 'BEGIN {print a + b}')
  done
}

# merge CLIENTS ACCEPTED: summarizes $tmp/merged.in; prints "key=value ..." (deliveries_per_s,
# last_p50_ms, last_p99_ms, first_p50_ms, lost, dups, ...).
merge() {
  local clients=$1 accepted=$2
  awk '{
      n = $1
      if (!(n in sent)) { sent[n] = $2; first[n] = $3; last[n] = $4 }
      else { if ($3 < first[n]) first[n] = $3; if ($4 > last[n]) last[n] = $4 }
      uniq[n] += $5; dups += $6
    }
    END {
      for (n in sent) { print "B", sent[n], first[n], last[n], uniq[n] }
      print "D", dups
    }' "$tmp/merged.in" >"$tmp/merged"
  local dups
  dups=$(awk '$1 == "D" {print $2}' "$tmp/merged")
  awk '$1 == "B" {printf "%.6f\n", ($4 - $2) / 1e6}' "$tmp/merged" | sort -n >"$tmp/last_ms"
  awk '$1 == "B" {printf "%.6f\n", ($3 - $2) / 1e6}' "$tmp/merged" | sort -n >"$tmp/first_ms"
  pct() { awk -v q="$1" '{a[NR] = $1} END {if (NR == 0) {print 0; exit} i = int(q * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; printf "%.3f", a[i]}' "$2"; }
  awk -v clients="$clients" -v accepted="$accepted" -v dups="${dups:-0}" \
    -v l50="$(pct 0.5 "$tmp/last_ms")" -v l99="$(pct 0.99 "$tmp/last_ms")" \
    -v lmax="$(pct 1 "$tmp/last_ms")" -v f50="$(pct 0.5 "$tmp/first_ms")" '
    $1 == "B" {
      b++; u += $5; if (min_sent == "" || $2 < min_sent) min_sent = $2
      if ($4 > max_last) max_last = $4
      if ($5 == clients) complete++
    }
    END {
      s = b ? (max_last - min_sent) / 1e9 : 0
      lost = clients * accepted - u; if (lost < 0) lost = 0
      printf "broadcasts=%d complete=%d deliveries=%d seconds=%.3f deliveries_per_s=%.0f first_p50_ms=%s last_p50_ms=%s last_p99_ms=%s last_max_ms=%s lost=%d dups=%d\n",
        b, complete, u, s, (s > 0 ? u / s : 0), f50, l50, l99, lmax, lost, dups
    }' "$tmp/merged"
}

# ---- one publisher run with CPU sampling: publish KIND LABEL FLAGS...
# KIND push|redis. Prints the merged line with the publisher's figures and each process's
# cores (over the merged window); sets $last.
publish() {
  local kind=$1 label=$2
  shift 2
  local procs=("${cpu_pids[@]}") before=() p
  for p in "${procs[@]}"; do before+=("$(ticks "$p")"); done
  local perf_pid=""
  if [ "$perf_on" = 1 ] && [ "$kind" = push ] && [[ $label == *.tput ]]; then
    local targets
    targets=$( (echo "$room_pid"; pgrep -P "$room_pid" || true; printf '%s\n' "${recv_pids[@]}") | paste -sd,)
    perf record -q -F 499 -o "$tmp/perf.$label.data" -p "$targets" -- sleep 2 \
      >/dev/null 2>"$tmp/perf.$label.log" &
    perf_pid=$!
    pids+=("$perf_pid")
  fi
  local pub_line
  # A publisher that saw errors exits 1 but still prints its line: the errors are counted.
  if [ "$kind" = push ]; then
    pub_line=$("$bin/push-load" broadcast --center "$center" --api-key "$api_key" --app "$app" \
      --window "$window" --max-seconds 120 "$@" 2>"$tmp/pub.$label.log") || true
  else
    pub_line=$("$bin/push-load" redis-broadcast --publish-to "$redis_list" \
      --window "$window" --max-seconds 120 "$@" 2>"$tmp/pub.$label.log") || true
  fi
  grep -q 'role=publisher' <<<"$pub_line" || fail "publisher $label failed: $(cat "$tmp/pub.$label.log")"
  [ -s "$tmp/pub.$label.log" ] && sed "s/^/# publisher $label: /" "$tmp/pub.$label.log"
  await_round
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" 2>/dev/null || true
    perf report -i "$tmp/perf.$label.data" --stdio --no-children --sort comm,dso,symbol -g none \
      2>/dev/null | grep '%' | grep -v '^#' | head -30 | sed "s/^/# perf $label: /" || true
  fi
  local ok
  ok=$(field ok <<<" $pub_line")
  local merged
  merged=$(merge "$recv_clients" "$ok")
  local secs
  secs=$(field seconds <<<" $merged")
  local cpu="" i=0 server_ticks=0 d
  for p in "${procs[@]}"; do
    d=$(($(ticks "$p") - before[i]))
    server_ticks=$((server_ticks + d))
    cpu="$cpu $(awk -v n="${cpu_names[$i]}" -v d="$d" -v hz="$hz" -v s="$secs" \
      'BEGIN {printf "cpu_%s=%.2f", n, (s > 0 ? d / hz / s : 0)}')"
    i=$((i + 1))
  done
  cpu="$cpu $(awk -v c="$recv_cpu_s" -v s="$secs" 'BEGIN {printf "cpu_loadgen_recv=%.2f", (s > 0 ? c / s : 0)}')"
  # CPU per delivery moves much less than rates when the cores are shared: every server
  # process of the chain (room workers, center, queued, register; or the redis-servers), and
  # the receiving load generators.
  cpu="$cpu $(awk -v t="$server_ticks" -v hz="$hz" -v c="$recv_cpu_s" -v n="$(field deliveries <<<" $merged")" \
    'BEGIN {printf "server_us_per_delivery=%.3f loadgen_us_per_delivery=%.3f", (n > 0 ? t / hz / n * 1e6 : 0), (n > 0 ? c / n * 1e6 : 0)}')"
  last="impl=$kind run=$label clients=$recv_clients $merged published=$ok pub_errors=$(field errors <<<" $pub_line") pub_skipped=$(field skipped <<<" $pub_line") pub_per_s=$(field per_s <<<" $pub_line") api_p99_ms=$(field api_p99_ms <<<" $pub_line")$cpu loadavg=$(cut -d' ' -f1 /proc/loadavg)"
  echo "$last"
}

# throughput_and_latency KIND TAG: the two runs for the current clients; records results.
declare -A res
throughput_and_latency() {
  local kind=$1 tag=$2
  local count=$((deliveries / recv_clients))
  [ $count -ge 100 ] || count=100
  publish "$kind" "$tag.tput" --count "$count" --seconds 30
  res[$tag.rate]=$(field deliveries_per_s <<<" $last")
  res[$tag.lost]=$(field lost <<<" $last")
  res[$tag.dups]=$(field dups <<<" $last")
  res[$tag.tput_p99]=$(field last_p99_ms <<<" $last")
  res[$tag.us]=$(field server_us_per_delivery <<<" $last")
  local bps=$lat_rate
  if [ "$lat_rate" = half ]; then
    bps=$(awk -v d="${res[$tag.rate]}" -v c="$recv_clients" \
      'BEGIN {r = d / c / 2; if (r < 5) r = 5; printf "%d", r}')
  fi
  local lat_count
  lat_count=$(awk -v r="$bps" -v s="$lat_seconds" 'BEGIN {printf "%d", r * s}')
  publish "$kind" "$tag.lat" --count "$lat_count" --rate "$bps" --seconds $((lat_seconds + 5))
  res[$tag.lat_rate]=$bps
  res[$tag.p50]=$(field last_p50_ms <<<" $last")
  res[$tag.p99]=$(field last_p99_ms <<<" $last")
  res[$tag.lat_lost]=$(field lost <<<" $last")
  res[$tag.lat_dups]=$(field dups <<<" $last")
}

echo "# broadcast fan-out: POST /v1/broadcast -> center -> queued -> room -> clients, vs Redis pub/sub and the raw floor"
echo "# machine: $(nproc) cores shared by every server AND the load generators (loopback); loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) build=$build commit=$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo ?) workers=\"$workers_list\" ns=\"$ns\" deliveries=$deliveries window=$window room_rate=$room_rate max_in_flight=$max_in_flight lat_rate=$lat_rate lat_seconds=$lat_seconds"
echo "# payload 256 bytes, qos 0; cpu_* = cores over the run's window (first API call to last receipt)"

# ---- push: push_block W (W room workers, every N)
push_block() {
  local w=$1
  cat >"$tmp/register.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
CONF
  start register.$w RPC_ADDRESS "$bin/push-register" --config "$tmp/register.conf"
  register_pid=$pid
  register=$line
  start_queued "queued.$w"
  cat >"$tmp/room.conf" <<CONF
name: "bcastbench"
tcp { address: "127.0.0.1:0" }
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
register { shards { address: "$register" slots: "0-1023" } }
apps { name: "$app" secret: "$secret" }
queued: "$qtcp"
broadcast_rate_per_s: $room_rate
broadcast_max_in_flight: $max_in_flight
CONF
  start room.$w ROOM "$bin/push-room" --config "$tmp/room.conf" --workers "$w"
  room_pid=$pid
  room_tcp=$(sed -n 's/.* tcp=\([^ ]*\).*/\1/p' <<<"$line")
  cat >"$tmp/center.conf" <<CONF
http { listen { address: "127.0.0.1:0" } }
register { shards { address: "$register" slots: "0-1023" } }
apps { name: "$app" api_keys: "$api_key" broadcast_rate_per_s: 1000000 broadcast_burst: 1000000 }
queued: "$qtcp"
CONF
  start center.$w HTTP_ADDRESS "$bin/push-center" --config "$tmp/center.conf" --workers 1
  center_pid=$pid
  center=$line
  cpu_pids=("$room_pid" "$center_pid" "$queued_pid" "$register_pid")
  cpu_names=(room center queued register)
  for n in $ns; do
    add_receivers broadcast "$room_tcp" $((n * w))
    sleep 1  # sessions reach register and the room's consumer is subscribed well before
    echo "# push: $w room worker(s), $n clients per worker ($recv_clients in $(( ${#recv_pids[@]} )) push-load processes)"
    throughput_and_latency push "push_${w}w_${n}"
  done
  stop_receivers
  kill -INT "$room_pid" 2>/dev/null || true  # SIGINT: stop at once (SIGTERM would drain)
  stop "$center_pid" "$room_pid" "$queued_pid" "$register_pid"
}

# ---- redis: redis_block W (W single-threaded redis-server processes, N subscribers each)
redis_block() {
  local w=$1
  redis_ports=()
  redis_pids=()
  for ((r = 0; r < w; r++)); do
    rport=$(free_port)
    redis-server --port "$rport" --bind 127.0.0.1 --protected-mode no --save "" --appendonly no \
      --daemonize no --maxclients 19900 >"$tmp/redis.$w.$r.log" 2>&1 &
    redis_pids+=($!)
    pids+=($!)
    redis_ports+=("$rport")
  done
  for rport in "${redis_ports[@]}"; do
    for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
  redis_list=$(printf '127.0.0.1:%s,' "${redis_ports[@]}")
  redis_list=${redis_list%,}
  cpu_pids=("${redis_pids[@]}")
  cpu_names=()
  for ((r = 0; r < w; r++)); do cpu_names+=("redis$r"); done
  for n in $ns; do
    for rport in "${redis_ports[@]}"; do add_receivers redis-broadcast "127.0.0.1:$rport" "$n"; done
    sleep 1
    echo "# redis: $w redis-server process(es), $n subscribers each ($recv_clients in ${#recv_pids[@]} push-load processes)"
    throughput_and_latency redis "redis_${w}x_${n}"
  done
  stop_receivers
  stop "${redis_pids[@]}"
}

# Push and Redis of one W back to back, so that the load other work puts on the shared cores
# moves as little as possible between the two halves of a ratio.
for w in $workers_list; do
  [[ $impls != *" push "* ]] || push_block "$w"
  [[ $impls != *" redis "* ]] || redis_block "$w"
done

# ---- floor: raw epoll, coalesced writes
if [[ $impls == *" floor "* ]]; then
  for n in $ns; do
    count=$((deliveries / n))
    [ $count -ge 100 ] || count=100
    start floor.$n ADDRESS "$bin/push-broadcast-floor" --connections "$n" --count "$count" \
      --window "$max_in_flight" --max-seconds 120
    floor_pid=$pid
    floor_addr=$line
    add_receivers raw-broadcast "$floor_addr" "$n"
    for _ in $(seq 1 1200); do grep -qs '^FLOOR' "$tmp/floor.$n.out" && break; sleep 0.1; done
    await_round
    floor_line=$(grep '^FLOOR' "$tmp/floor.$n.out" || true)
    merged=$(merge "$n" "$count")
    secs=$(field seconds <<<" $merged")
    echo "impl=floor clients=$n $merged ${floor_line#FLOOR } $(awk -v c="$recv_cpu_s" -v s="$secs" 'BEGIN {printf "cpu_loadgen_recv=%.2f", (s > 0 ? c / s : 0)}') $(awk -v c="$(field cores <<<" $floor_line")" -v s="$(field seconds <<<" $floor_line")" -v n="$(field deliveries <<<" $merged")" 'BEGIN {printf "server_us_per_delivery=%.3f", (n > 0 ? c * s / n * 1e6 : 0)}')"
    res[floor_$n.us]=$(awk -v c="$(field cores <<<" $floor_line")" -v s="$(field seconds <<<" $floor_line")" -v n="$(field deliveries <<<" $merged")" 'BEGIN {printf "%.3f", (n > 0 ? c * s / n * 1e6 : 0)}')
    res[floor_$n.rate]=$(field deliveries_per_s <<<" $merged")
    res[floor_$n.lost]=$(field lost <<<" $merged")
    stop_receivers
    stop "$floor_pid"
  done
fi

# ---- RESULT: the biggest configuration is the headline
wmax=$(tr ' ' '\n' <<<"$workers_list" | sort -n | tail -1)
nmax=$(tr ' ' '\n' <<<"$ns" | sort -n | tail -1)
get() { echo "${res[$1]:-NA}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.2f", a / b}'; }
head_push=$(get "push_${wmax}w_${nmax}.rate")
head_redis=$(get "redis_${wmax}x_${nmax}.rate")
detail=""
total_lost=0
total_dups=0
for w in $workers_list; do
  for n in $ns; do
    p=push_${w}w_${n}
    r=redis_${w}x_${n}
    detail="$detail ${p}=$(get "$p.rate") ${r}=$(get "$r.rate") ratio_${w}w_${n}=$(ratio "$(get "$p.rate")" "$(get "$r.rate")") ${p}_last_p99_ms=$(get "$p.p99") ${r}_last_p99_ms=$(get "$r.p99")"
    for t in "$p.lost" "$p.lat_lost" "$r.lost" "$r.lat_lost"; do total_lost=$((total_lost + ${res[$t]:-0})); done
    for t in "$p.dups" "$p.lat_dups" "$r.dups" "$r.lat_dups"; do total_dups=$((total_dups + ${res[$t]:-0})); done
  done
done
for n in $ns; do detail="$detail floor_${n}=$(get "floor_$n.rate")"; done
echo "# goal (issue 15): >= 4000000 deliveries/s and >= 2.5x Redis in the same run; headline = ${wmax} worker(s) x ${nmax} clients"
echo "RESULT broadcast_bench deliveries_per_s=$head_push redis_per_s=$head_redis ratio=$(ratio "$head_push" "$head_redis") floor_per_s=$(get "floor_${nmax}.rate") floor_ratio=$(ratio "$head_push" "$(get "floor_${nmax}.rate")") us_per_delivery=$(get "push_${wmax}w_${nmax}.us") redis_us_per_delivery=$(get "redis_${wmax}x_${nmax}.us") floor_us_per_delivery=$(get "floor_${nmax}.us") cpu_ratio=$(ratio "$(get "redis_${wmax}x_${nmax}.us")" "$(get "push_${wmax}w_${nmax}.us")") last_client_p50_ms=$(get "push_${wmax}w_${nmax}.p50") last_client_p99_ms=$(get "push_${wmax}w_${nmax}.p99") redis_last_client_p99_ms=$(get "redis_${wmax}x_${nmax}.p99") lat_rate_per_s=$(get "push_${wmax}w_${nmax}.lat_rate") lost=$total_lost dups=$total_dups$detail"
