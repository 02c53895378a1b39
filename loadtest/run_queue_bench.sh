#!/usr/bin/env bash
# Our NSQ-compatible daemon (push-queued) next to the real nsqd v1.3.0, same phases, same
# client (loadtest/queue_bench, on common/queue/client), same flags, on this machine (loopback),
# with the load generator on the same cores.
#
#   loadtest/run_queue_bench.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-rel. Builds nothing; build first with
#   cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DPUSH_BUILD_TESTS=OFF
#   ninja -C build-rel push-queued queue-bench
# nsqd: $NSQD_BIN, else ../shared/peers/nsq/nsqd next to the repository (the script fails
# when it is absent: the point is the comparison).
#
# Environment: REPS (runs of each daemon, default 3, medians reported; queued and nsqd
# alternate), SECONDS_PER_PHASE (time bound of the publish phases and of the latency window,
# default 5), PUB_COUNT (cap of messages per publish phase, default 5000000), BACKLOG
# (messages published before each consume phase, default 1000000), FANOUT_COUNT (messages
# published in the fan-out phase, default 250000, x8 deliveries), LAT_RATE (msgs/s of the
# latency phase, default 50000), PUBLISHERS (connections of the publish phases, default 1),
# PUB_DEPTH (PUB commands in flight per connection, default 200), MPUB_DEPTH (MPUB commands in
# flight per connection, default 4), MAX_IN_FLIGHT (RDY per consumer, default 2500),
# MPUB_DEEP_DEPTH (MPUB commands in flight in the mpub_deep phase, default 16),
# MEM_QUEUE_SIZE (default 10000000).
#
# Each daemon is started with the same flags: free 127.0.0.1 ports, a fresh temporary
# --data-path, --mem-queue-size=MEM_QUEUE_SIZE (larger than any backlog here, so every phase
# measures the in-memory queues, never the disk queue) and --log-level=warn. Phases, 256-byte
# messages (one topic per phase, deleted after it):
#   pub      PUB, PUB_DEPTH pipelined per connection, for SECONDS_PER_PHASE (or PUB_COUNT)
#   mpub     MPUB of 200, MPUB_DEPTH in flight per connection, the same bounds
#   mpub_deep  the same with MPUB_DEEP_DEPTH in flight: with few in flight the rate is bound by
#            round trips (and by how soon each process gets a core back), not by the daemon
#   sub1     BACKLOG messages published (MPUB) to a channel made beforehand, then read by
#            1 consumer (RDY MAX_IN_FLIGHT, FIN each)
#   sub4     the same with 4 consumers on the channel
#   fanout   8 channels, one consumer each, subscribed first; FANOUT_COUNT messages published
#            (MPUB 200) while they consume: deliveries/s over all channels
#   latency  1 consumer; PUB at LAT_RATE msgs/s for 1 s warm-up + SECONDS_PER_PHASE: p50/p99
#            of arrival - send (both taken in queue-bench, one clock)
# and after the phases the daemon's VmRSS and VmHWM (/proc/PID/status). Each phase line gets
# the daemon's CPU in the measured window (cores, /proc/PID/stat) and its CPU per message in
# microseconds (`daemon_us_per_msg`). Ends with
#   RESULT queue_bench pub_ratio= mpub_ratio= sub1_ratio= sub4_ratio= fanout_ratio=
#     p99_queued_us= p99_nsqd_us= rss_queued_mb= rss_nsqd_mb= ... (ratios queued / nsqd of the
#     medians, then the raw medians; lat_sent_* = the rate the latency phase really sent: below
#     LAT_RATE when the daemon fell behind and messages were skipped at the 10000 in-flight cap)
# Note: sessions get equal CPU shares here (sched_autogroup), so `nice` does not shield the
# run from other sessions' builds: check the load average printed at the start.
# Every process it started is stopped by PID on exit. Takes ~4 min with REPS=3.
set -euo pipefail

build=${1:-build-rel}
bin=$build/bin
reps=${REPS:-3}
seconds=${SECONDS_PER_PHASE:-5}
pub_count=${PUB_COUNT:-5000000}
backlog=${BACKLOG:-1000000}
fanout_count=${FANOUT_COUNT:-250000}
lat_rate=${LAT_RATE:-50000}
publishers=${PUBLISHERS:-1}
pub_depth=${PUB_DEPTH:-200}
mpub_depth=${MPUB_DEPTH:-4}
mpub_deep_depth=${MPUB_DEEP_DEPTH:-16}
max_in_flight=${MAX_IN_FLIGHT:-2500}
mem_queue_size=${MEM_QUEUE_SIZE:-10000000}
size=256
here=$(cd "$(dirname "$0")" && pwd)
nsqd_bin=${NSQD_BIN:-$here/../../shared/peers/nsq/nsqd}
for b in "$bin/push-queued" "$bin/queue-bench" "$nsqd_bin"; do
  [ -x "$b" ] || { echo "missing $b: build it first (see the header of $0)" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "curl is needed (the daemons' HTTP API)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/push-queuebench.XXXXXX)
pids=()
# shellcheck source=loadtest/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
trap 'stop_all; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE

fail() { echo "queue_bench: $*" >&2; exit 1; }
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }


# start_daemon NAME BINARY: starts it with the common flags; sets $daemon_pid, $tcp, $http.
start_daemon() {
  local name=$1 binary=$2
  local data=$tmp/data.$name.$RANDOM
  mkdir -p "$data"
  tcp=127.0.0.1:$(free_port)
  http=127.0.0.1:$(free_port)
  "$binary" --tcp-address="$tcp" --http-address="$http" --data-path="$data" \
    --mem-queue-size="$mem_queue_size" --log-level=warn >"$tmp/$name.out" 2>"$tmp/$name.log" &
  daemon_pid=$!
  pids+=("$daemon_pid")
  for _ in $(seq 1 200); do
    [ "$(curl -s --max-time 1 "http://$http/ping" 2>/dev/null)" = "OK" ] && return 0
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$tmp/$name.log" >&2
  fail "$name did not start"
}

stop_daemon() {
  kill -TERM "$daemon_pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
}

api() {  # api PATH: POST to the daemon's HTTP API, fails the script on an error answer
  curl -sf --max-time 10 -X POST "http://$http$1" >/dev/null || fail "POST $1 failed"
}

# bench DAEMON PHASE MODE FLAGS...: one queue-bench run; prints its PHASE line with the
# daemon's CPU in the measured window appended and records it in $tmp/lines.
bench() {
  local daemon=$1 phase=$2 mode=$3
  shift 3
  local a="" b="" ta="" tb="" l last=""
  while IFS= read -r l; do
    case $l in
      MEASURING) a=$(ticks "$daemon_pid"); ta=$(date +%s.%N) ;;
      MEASURED) b=$(ticks "$daemon_pid"); tb=$(date +%s.%N) ;;
      PHASE*) last=$l ;;
    esac
  done < <(exec timeout 300 "$bin/queue-bench" "$mode" --nsqd "$tcp" --phase "$phase" \
    --size "$size" --max-seconds 240 "$@" 2>"$tmp/bench.log")
  wait $! || fail "queue-bench $phase against $daemon failed: $(cat "$tmp/bench.log")"
  [ -n "$last" ] || fail "queue-bench $phase printed nothing"
  if [ -n "$b" ]; then
    last="$last $(awk -v d=$((b - a)) -v hz="$hz" -v t="$ta" -v u="$tb" \
      -v r="$(field msg_per_s <<<"$last")" \
      'BEGIN {c = d / hz / (u - t); printf "daemon_cpu=%.2f daemon_us_per_msg=%.2f", c, (r > 0 ? c * 1e6 / r : 0)}')"
  fi
  echo "daemon=$daemon rep=$rep $last"
  echo "daemon=$daemon rep=$rep $last" >>"$tmp/lines"
}

run_daemon() {  # run_daemon NAME BINARY
  local name=$1
  start_daemon "$name" "$2"
  echo "# $name: pid $daemon_pid tcp $tcp http $http, rep $rep"
  local t=r$rep
  bench "$name" pub pub --topic "pub_$t" --publishers "$publishers" --batch 1 \
    --depth "$pub_depth" --count "$pub_count" --seconds "$seconds"
  api "/topic/delete?topic=pub_$t"
  bench "$name" mpub pub --topic "mpub_$t" --publishers "$publishers" --batch 200 \
    --depth "$mpub_depth" --count "$pub_count" --seconds "$seconds"
  api "/topic/delete?topic=mpub_$t"
  bench "$name" mpub_deep pub --topic "mpubd_$t" --publishers "$publishers" --batch 200 \
    --depth "$mpub_deep_depth" --count "$pub_count" --seconds "$seconds"
  api "/topic/delete?topic=mpubd_$t"
  for n in 1 4; do
    api "/topic/create?topic=sub${n}_$t"  # nsqd's /channel/create wants the topic first
    api "/channel/create?topic=sub${n}_$t&channel=bench"
    bench "$name" "backlog$n" pub --topic "sub${n}_$t" --publishers "$publishers" --batch 200 \
      --depth "$mpub_depth" --count "$backlog" --seconds 120
    bench "$name" "sub$n" sub --topic "sub${n}_$t" --channel bench --consumers "$n" \
      --max-in-flight "$max_in_flight" --count "$backlog" --seconds 120
    api "/topic/delete?topic=sub${n}_$t"
  done
  bench "$name" fanout fanout --topic "fanout_$t" --channels 8 --publishers "$publishers" \
    --batch 200 --depth "$mpub_depth" --max-in-flight "$max_in_flight" --count "$fanout_count" \
    --seconds 120
  api "/topic/delete?topic=fanout_$t"
  bench "$name" latency latency --topic "lat_$t" --channel bench --rate "$lat_rate" \
    --max-in-flight "$max_in_flight" --seconds "$seconds"
  api "/topic/delete?topic=lat_$t"
  local rss hwm
  rss=$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$daemon_pid/status")
  hwm=$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$daemon_pid/status")
  echo "daemon=$name rep=$rep MEMORY rss_mb=$rss hwm_mb=$hwm"
  echo "daemon=$name rep=$rep MEMORY rss_mb=$rss hwm_mb=$hwm" >>"$tmp/lines"
  stop_daemon
}

echo "# queue_bench: push-queued vs nsqd v1.3.0 ($("$nsqd_bin" --version 2>&1 | head -1))"
echo "# machine: $(nproc) cores shared by the daemon AND queue-bench (one process, one loop)"
echo "#   over loopback; loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) build=$build reps=$reps size=$size seconds=$seconds pub_count=$pub_count backlog=$backlog fanout_count=$fanout_count lat_rate=$lat_rate publishers=$publishers pub_depth=$pub_depth mpub_depth=$mpub_depth max_in_flight=$max_in_flight"
echo "# daemon flags: --mem-queue-size=$mem_queue_size (every phase stays in the memory queues) --log-level=warn, fresh --data-path"
: >"$tmp/lines"
for rep in $(seq 1 "$reps"); do
  run_daemon queued "$bin/push-queued"
  run_daemon nsqd "$nsqd_bin"
done

# med DAEMON PHASE KEY: the median of KEY over the reps.
med() {
  grep "^daemon=$1 " "$tmp/lines" | grep " name=$2 " | field "$3" | median
}
memmed() { grep "^daemon=$1 .* MEMORY" "$tmp/lines" | field "$2" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

declare -A rate
echo "# medians over $reps runs (msgs/s; daemon_cpu in cores, daemon_us_per_msg = its CPU per message)"
printf '# %-9s %12s %12s %6s   %9s %9s   %9s %9s\n' phase queued nsqd ratio q_cpu n_cpu q_us/msg n_us/msg
for p in pub mpub mpub_deep sub1 sub4 fanout latency; do
  for d in queued nsqd; do rate[$d.$p]=$(med $d $p msg_per_s); done
  printf '# %-9s %12.0f %12.0f %6s   %9s %9s   %9s %9s\n' "$p" "${rate[queued.$p]}" "${rate[nsqd.$p]}" \
    "$(ratio "${rate[queued.$p]}" "${rate[nsqd.$p]}")" "$(med queued $p daemon_cpu)" \
    "$(med nsqd $p daemon_cpu)" "$(med queued $p daemon_us_per_msg)" "$(med nsqd $p daemon_us_per_msg)"
done
for d in queued nsqd; do
  echo "# $d latency at $lat_rate msgs/s: p50 $(med $d latency p50_us) us, p99 $(med $d latency p99_us) us, p999 $(med $d latency p999_us) us (p99 of the runs: $(grep "^daemon=$d " "$tmp/lines" | grep ' name=latency ' | field p99_us | paste -sd/))"
  echo "# $d memory after the run: VmRSS $(memmed $d rss_mb) MB, VmHWM $(memmed $d hwm_mb) MB"
done
echo "# goal (issue): publish >= 2x nsqd, consume >= 1x nsqd"
echo "RESULT queue_bench pub_ratio=$(ratio "${rate[queued.pub]}" "${rate[nsqd.pub]}") mpub_ratio=$(ratio "${rate[queued.mpub]}" "${rate[nsqd.mpub]}") mpub_deep_ratio=$(ratio "${rate[queued.mpub_deep]}" "${rate[nsqd.mpub_deep]}") mpub_cpu_ratio=$(ratio "$(med nsqd mpub daemon_us_per_msg)" "$(med queued mpub daemon_us_per_msg)") sub1_ratio=$(ratio "${rate[queued.sub1]}" "${rate[nsqd.sub1]}") sub4_ratio=$(ratio "${rate[queued.sub4]}" "${rate[nsqd.sub4]}") fanout_ratio=$(ratio "${rate[queued.fanout]}" "${rate[nsqd.fanout]}") p99_queued_us=$(med queued latency p99_us) p99_nsqd_us=$(med nsqd latency p99_us) rss_queued_mb=$(memmed queued rss_mb) rss_nsqd_mb=$(memmed nsqd rss_mb) hwm_queued_mb=$(memmed queued hwm_mb) hwm_nsqd_mb=$(memmed nsqd hwm_mb) pub_queued=${rate[queued.pub]} pub_nsqd=${rate[nsqd.pub]} mpub_queued=${rate[queued.mpub]} mpub_nsqd=${rate[nsqd.mpub]} mpub_deep_queued=${rate[queued.mpub_deep]} mpub_deep_nsqd=${rate[nsqd.mpub_deep]} sub1_queued=${rate[queued.sub1]} sub1_nsqd=${rate[nsqd.sub1]} sub4_queued=${rate[queued.sub4]} sub4_nsqd=${rate[nsqd.sub4]} fanout_queued=${rate[queued.fanout]} fanout_nsqd=${rate[nsqd.fanout]} lat_rate=$lat_rate lat_sent_queued=${rate[queued.latency]} lat_sent_nsqd=${rate[nsqd.latency]} reps=$reps"
