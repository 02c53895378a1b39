#!/usr/bin/env bash
# Offline storage (issue 16 item 7): push-saver storing and acking QoS 1 messages, and
# replaying a user's 100 stored messages at connect, against redis-benchmark on the same Redis
# running saver's Redis work per message as the yardstick, all in one run on this machine.
#
#   loadtest/run_offline_bench.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-release. Build first with
#   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPUSH_BUILD_TESTS=OFF
#   cmake --build build-release --target push-saver push-saver-bench push-load push-room \
#     push-register push-center
# Environment (defaults in brackets):
#   MESSAGES [1000000] USERS [10000] DEPTH [16] BATCH [100] PAYLOAD [64]: store-ack
#     (push-saver-bench: D lanes, each Stores BATCH messages, one user each, in one call, then
#     Acks them in one call grouped per user, as a room batches its clients' acks)
#   REPLAY_USERS [5000] REPLAY_DEPTH [16]: replay (each user gets 100 messages, then one
#     Load(user, limit 100) each, REPLAY_DEPTH in flight, as clients connecting)
#   MYSQL [1]: 1 starts mariadbd and gives saver its write-behind (as deployed); 0 Redis only
#   MIN_AGE_MS [saver's default, 500]: saver's write_behind_min_age_ms; 1 makes nearly every
#     store and ack reach MySQL (the case of clients that ack later than the age)
#   REDIS_N [1000000] REDIS_CLIENTS [8] REDIS_PIPELINE [16]: the redis-benchmark yardstick
#   MAX_SECONDS [120]: each phase's bound (push-saver-bench --max-seconds)
#   E2E [1] E2E_USERS [1000] E2E_SECONDS [8] E2E_CONFIG [8x8: HTTP connections x depth]
#   E2E_CENTER_WORKERS [1]: the end-to-end run (0 skips it; needs push-load, push-room,
#     push-register, push-center): push-load unicast (qos 1 by center's default) through
#     center and a room that both have saver configured; e2e_msg_per_s = pushes received by
#     the clients, e2e_stored / e2e_acked = saver's counters over the run
#   SAVER_LD_PRELOAD []: LD_PRELOAD for push-saver only (e.g. /usr/lib/x86_64-linux-gnu/
#     libjemalloc.so.2, to compare allocators; the build links none into push-saver)
#
# Starts redis-server (no persistence) and mariadbd (a data directory made by
# mariadb-install-db, as tests/support/mariadb_server.cc does) on free loopback ports in a
# temp dir, then push-saver with both. Runs store-ack (saver's CPU measured, then waits for the
# write-behind to reach MySQL: drain_s), replay, and redis-benchmark running saver's Redis
# work per stored+acked message (store: ZADD NX, HSET, HGET, and HSET + PEXPIREAT x3 for a new
# user; ack: ZCARD, ZREM, HDEL, DEL) as one EVAL of BATCH messages: redis_ops_per_s is Redis's
# own rate for that work in saver's batch shape (both halves in one call: a ceiling saver,
# with a store call and an ack call per batch, is compared to); and as one EVAL per message
# (redis_per_message_eval_per_s: what a design without batching could reach at most).
# Ends with
#   RESULT offline_bench stored_acked_per_s=... redis_ops_per_s=... ratio=... replay100_p50_ms=... replay100_p99_ms=... ...
# Goals (issue 16): >= 100000 stored and acked messages/s, replay of 100 at connect p99 < 20 ms.
# Stops everything it started by PID and removes its temp dir, on exit and on INT/TERM.
set -euo pipefail

build=${1:-build-release}
bin=$build/bin
messages=${MESSAGES:-1000000}
users=${USERS:-10000}
depth=${DEPTH:-16}
batch=${BATCH:-100}
payload=${PAYLOAD:-64}
replay_users=${REPLAY_USERS:-5000}
replay_depth=${REPLAY_DEPTH:-16}
use_mysql=${MYSQL:-1}
min_age_ms=${MIN_AGE_MS:-}
redis_n=${REDIS_N:-1000000}
redis_clients=${REDIS_CLIENTS:-8}
redis_pipeline=${REDIS_PIPELINE:-16}
max_seconds=${MAX_SECONDS:-120}
e2e=${E2E:-1}
e2e_users=${E2E_USERS:-1000}
e2e_seconds=${E2E_SECONDS:-8}
e2e_config=${E2E_CONFIG:-8x8}
e2e_center_workers=${E2E_CENTER_WORKERS:-1}
needed="push-saver push-saver-bench"
[ "$e2e" = 1 ] && needed+=" push-load push-room push-register push-center"
for b in $needed; do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b: build it first (see the header of $0)" >&2; exit 2; }
done
for b in redis-server redis-cli redis-benchmark; do
  command -v "$b" >/dev/null || { echo "offline_bench: $b not found" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/push-offbench.XXXXXX)
pids=()
# shellcheck source=loadtest/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"  # start, stop_all, field, free_port, start_redis
trap 'stop_all; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE

fail() { echo "offline_bench: $*" >&2; exit 1; }

# run_wait NAME COMMAND...: runs a long step in the background and waits for it (stdout in
# $tmp/NAME.out, stderr in $tmp/NAME.err): bash runs a trap only once the foreground command
# is over, and a $(...) of a minute would hold off INT/TERM and the cleanup that long, while
# `wait` returns at once. The step is in $pids (stopped by the EXIT trap) while it runs.
run_wait() {
  local name=$1
  shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local p=$! rc=0
  pids+=("$p")
  wait "$p" || rc=$?
  local left=() q
  for q in "${pids[@]}"; do [ "$q" = "$p" ] || left+=("$q"); done
  pids=("${left[@]}")
  return "$rc"
}

# Redis: no persistence (saver's durable copy is MySQL).
start_redis

mysql_conf=""
if [ "$use_mysql" = 1 ]; then
  mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  [ -x "$mariadbd" ] || fail "mariadbd not found (MYSQL=0 runs Redis only)"
  command -v mariadb-install-db >/dev/null || fail "mariadb-install-db not found"
  mport=$(free_port)
  # Small InnoDB files (fast to create); a buffer pool that holds the bench's rows; the
  # durability settings of tests/support/mariadb_server.cc (flush the log once a second).
  small=(--innodb-buffer-pool-size=256M --innodb-log-file-size=64M --skip-log-bin --skip-name-resolve)
  user_flag=()
  [ "$(id -u)" = 0 ] && user_flag=(--user=root)
  mariadb-install-db --no-defaults --datadir="$tmp/mysql" --auth-root-authentication-method=normal \
    --skip-test-db "${user_flag[@]}" "${small[@]}" >"$tmp/install-db.log" 2>&1 ||
    fail "mariadb-install-db failed: $(tail -20 "$tmp/install-db.log")"
  "$mariadbd" --no-defaults --datadir="$tmp/mysql" --port="$mport" --bind-address=127.0.0.1 \
    --socket="$tmp/mysqld.sock" --skip-networking=0 --pid-file="$tmp/mysqld.pid" \
    --log-error="$tmp/mysqld.err" --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 \
    --performance-schema=OFF --table-open-cache=256 --max-connections=200 "${small[@]}" \
    "${user_flag[@]}" >/dev/null 2>&1 &
  mysql_pid=$!
  pids+=("$mysql_pid")
  for _ in $(seq 1 600); do
    mariadb --no-defaults --user=root --socket="$tmp/mysqld.sock" -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$mysql_pid" 2>/dev/null || fail "mariadbd exited: $(tail -20 "$tmp/mysqld.err")"
    sleep 0.1
  done
  mariadb --no-defaults --user=root --socket="$tmp/mysqld.sock" <<SQL || fail "creating the database failed"
CREATE DATABASE push;
CREATE USER 'push'@'127.0.0.1' IDENTIFIED BY 'bench';
GRANT ALL PRIVILEGES ON push.* TO 'push'@'127.0.0.1';
SQL
  mysql_conf="mysql { host: \"127.0.0.1\" port: $mport user: \"push\" password: \"bench\" database: \"push\" }"
  [ -n "$min_age_ms" ] && mysql_conf+=" write_behind_min_age_ms: $min_age_ms"
fi

cat >"$tmp/saver.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
redis { mode: "single" addresses: "127.0.0.1:$rport" }
$mysql_conf
CONF
start saver RPC_ADDRESS env LD_PRELOAD="${SAVER_LD_PRELOAD:-}" "$bin/push-saver" --config "$tmp/saver.conf"
saver_pid=$pid
saver=$line

echo "# offline storage bench: push-saver ($saver) on redis-server :$rport$([ "$use_mysql" = 1 ] && echo " and mariadbd :$mport (write-behind)")"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) build=$build $(nproc) cores shared by saver, Redis, MariaDB and the load generator; loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"

# CPU ticks (user + system) of a process; 0 when it is gone.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

echo "# store-ack: $messages messages to $users users, $depth lanes x Store($batch) then Ack($batch)"
t0=$(date +%s.%N)
redis_t0=$(ticks "$redis_pid")
mysql_t0=$([ "$use_mysql" = 1 ] && ticks "$mysql_pid" || echo 0)
saver_t0=$(ticks "$saver_pid")
run_wait store "$bin/push-saver-bench" store-ack --target "$saver" --messages "$messages" \
  --users "$users" --depth "$depth" --batch "$batch" --payload "$payload" --pid "$saver_pid" \
  --max-seconds "$max_seconds" --drain-seconds "$([ "$use_mysql" = 1 ] && echo "$max_seconds" || echo 0)" ||
  fail "store-ack failed: $(cat "$tmp/store.err" "$tmp/store.out")"
store_out=$(cat "$tmp/store.out")
echo "$store_out"
# CPU per stored+acked message of each process over the whole store-ack (drain included), us.
t1=$(date +%s.%N)
us_per() { awk -v a="$1" -v b="$2" -v hz="$hz" -v n="$messages" 'BEGIN {printf "%.2f", (b - a) / hz * 1e6 / n}'; }
saver_us=$(us_per "$saver_t0" "$(ticks "$saver_pid")")
redis_us=$(us_per "$redis_t0" "$(ticks "$redis_pid")")
mysql_us=$([ "$use_mysql" = 1 ] && us_per "$mysql_t0" "$(ticks "$mysql_pid")" || echo 0)
echo "cpu_us_per_message saver=$saver_us redis=$redis_us mariadbd=$mysql_us wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')"
store_line=$(grep '^mode=store-ack' <<<"$store_out")
store_stats=$(grep '^STATS' <<<"$store_out")
stored_acked=$(field stored_acked_per_s <<<" $store_line")
seconds=$(field seconds <<<" $store_line")
acked=$(field acked <<<" $store_line")
drain=$(field drain_s <<<" $store_stats")
backlog=$(field write_behind_backlog <<<" $store_stats")
with_mysql=$(awk -v a="$acked" -v s="$seconds" -v d="$drain" 'BEGIN {printf "%.0f", a / (s + d)}')

echo "# replay: $replay_users users x 100 stored (and written behind), then Load(user, limit 100) each, $replay_depth in flight"
run_wait replay "$bin/push-saver-bench" replay --target "$saver" --users "$replay_users" \
  --per-user 100 --limit 100 --depth "$replay_depth" --batch "$batch" --payload "$payload" \
  --pid "$saver_pid" --redis-pid "$redis_pid" --max-seconds "$max_seconds" \
  --drain-seconds "$([ "$use_mysql" = 1 ] && echo "$max_seconds" || echo 0)" ||
  fail "replay failed: $(cat "$tmp/replay.err" "$tmp/replay.out")"
replay_out=$(cat "$tmp/replay.out")
echo "$replay_out"
replay_line=$(grep '^mode=replay' <<<"$replay_out")

# The yardstick, on the same Redis: the Redis work saver does per stored+acked message (its
# store script's ZADD NX, HSET, HGET of the keys' expiry, HSET + PEXPIREAT x3 when the user's
# keys are new, and its ack script's ZCARD, ZREM, HDEL, DEL), run by redis-benchmark twice:
# BATCH messages per EVAL (the shape saver sends: one store call and one ack call per batch of
# a node's users; here both halves in one call, so an upper bound) and one EVAL per message.
# Ids and users random in 0..REDIS_N, so nearly every ZADD NX stores and every user is new.
store_ack_lua="local function one(k, id, value, at)
  if redis.call('ZADD', KEYS[k + 1], 'NX', 0, id) == 0 then return 0 end
  redis.call('HSET', KEYS[k + 2], id, value)
  local keys_at = tonumber(redis.call('HGET', KEYS[k + 3], '') or '0')
  if keys_at < at then
    redis.call('HSET', KEYS[k + 3], '', at)
    for j = 1, 3 do redis.call('PEXPIREAT', KEYS[k + j], at) end
  end
  local before = redis.call('ZCARD', KEYS[k + 1])
  local n = redis.call('ZREM', KEYS[k + 1], id)
  redis.call('HDEL', KEYS[k + 2], id)
  if n == before then redis.call('DEL', KEYS[k + 3]) else redis.call('HDEL', KEYS[k + 3], id) end
  return n
end
local at, value, n = tonumber(ARGV[1]), ARGV[2], 0
for i = 1, #KEYS / 3 do n = n + one((i - 1) * 3, ARGV[2 + i], value, at) end
return n"
now_ms=$(date +%s%3N)
value="$((now_ms + 3600000)) $(head -c "$payload" /dev/zero | tr '\0' p)"
# redis_eval MESSAGES_PER_CALL CALLS: prints "<messages/s> <Redis CPU us per message>".
redis_eval() {
  local per=$1 calls=$2 keys=() ids=() i rate b0
  for ((i = 0; i < per; i++)); do
    keys+=('in:{bench/u__rand_int__}' 'mb:{bench/u__rand_int__}' 'ml:{bench/u__rand_int__}')
    ids+=('00000000__rand_int__')
  done
  b0=$(ticks "$redis_pid")
  run_wait redis-benchmark redis-benchmark -p "$rport" -c "$redis_clients" -P "$redis_pipeline" \
    -n "$calls" -r "$redis_n" -q EVAL "$store_ack_lua" "${#keys[@]}" "${keys[@]}" \
    "$((now_ms + 3600000))" "$value" "${ids[@]}" ||
    fail "redis-benchmark failed: $(cat "$tmp/redis-benchmark.err")"
  rate=$(tr '\r' '\n' <"$tmp/redis-benchmark.out" |
    sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
  [ -n "$rate" ] || fail "redis-benchmark printed no rate"
  awk -v r="$rate" -v per="$per" -v a="$b0" -v b="$(ticks "$redis_pid")" -v hz="$hz" \
    -v n="$((calls * per))" 'BEGIN {printf "%.0f %.2f\n", r * per, (b - a) / hz * 1e6 / n}'
}
echo "# redis-benchmark: EVAL of saver's Redis work, $batch messages per call, $redis_clients clients x pipeline $redis_pipeline, $redis_n messages"
# (Through a file, not a process substitution: redis_eval must run in this shell, so that its
# redis-benchmark is in $pids for the EXIT trap and its `fail` ends the script.)
redis_eval "$batch" $((redis_n / batch)) >"$tmp/yardstick"
read -r redis_rate redis_bench_us <"$tmp/yardstick"
echo "impl=redis-benchmark messages_per_call=$batch store_ack_per_s=$redis_rate redis_cpu_us_per_message=$redis_bench_us"
echo "# redis-benchmark: the same work as one EVAL per message, $redis_n messages"
redis_eval 1 "$redis_n" >"$tmp/yardstick"
read -r redis_single_rate redis_single_us <"$tmp/yardstick"
echo "impl=redis-benchmark messages_per_call=1 store_ack_per_s=$redis_single_rate redis_cpu_us_per_message=$redis_single_us"

# End to end: POST /v1/push (qos 1, center's default) -> center Stores in saver -> room ->
# client acks -> room batches the acks to saver. push-load's msg_per_s counts pushes the
# clients received; saver's counters over the run say how many were stored and acked.
e2e_result=" e2e=skipped"
if [ "$e2e" = 1 ]; then
  app=bench
  secret=bench-secret-0123456789abcdef
  api_key=bench-api-key-0123456789abcdef
  cat >"$tmp/register.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
CONF
  start register RPC_ADDRESS "$bin/push-register" --config "$tmp/register.conf"
  register=$line
  cat >"$tmp/room.conf" <<CONF
name: "offbench"
tcp { address: "127.0.0.1:0" }
rpc { listen { address: "127.0.0.1:0" } }
register { shards { address: "$register" slots: "0-1023" } }
apps { name: "$app" secret: "$secret" }
saver { addresses: "$saver" }
CONF
  start room ROOM "$bin/push-room" --config "$tmp/room.conf"
  room_tcp=$(sed -n 's/.* tcp=\([^ ]*\).*/\1/p' <<<"$line")
  cat >"$tmp/center.conf" <<CONF
http { listen { address: "127.0.0.1:0" } }
register { shards { address: "$register" slots: "0-1023" } }
apps { name: "$app" api_keys: "$api_key" push_rate_per_s: 10000000 push_burst: 10000000 }
saver { addresses: "$saver" }
CONF
  start center HTTP_ADDRESS "$bin/push-center" --config "$tmp/center.conf" --workers "$e2e_center_workers"
  center=$line
  before=$("$bin/push-saver-bench" stats --target "$saver" | grep '^STATS')
  c=${e2e_config%x*}
  d=${e2e_config#*x}
  echo "# end to end: push-load unicast, $e2e_users clients acking, ${c}x${d} HTTP, ${e2e_seconds}s, center+room with saver"
  run_wait load "$bin/push-load" unicast --center "$center" --api-key "$api_key" --app "$app" \
    --secret "$secret" --room "$room_tcp" --users "$e2e_users" --user-prefix e \
    --seconds "$e2e_seconds" --http-connections "$c" --depth "$d" \
    --max-seconds $((e2e_seconds + 60)) || fail "push-load failed: $(tail -5 "$tmp/load.err")"
  e2e_line=$(grep '^impl=push' "$tmp/load.out") || fail "push-load printed no result"
  echo "$e2e_line"
  # The room sends acks every ack_batch_interval_ms: wait (bounded) for them and the write-behind.
  after=$("$bin/push-saver-bench" stats --target "$saver" --drain-seconds 10 | grep '^STATS')
  echo "saver before: $before"
  echo "saver after:  $after"
  e2e_stored=$(($(field stored <<<" $after") - $(field stored <<<" $before")))
  e2e_acked=$(($(field acked <<<" $after") - $(field acked <<<" $before")))
  e2e_result=" e2e_msg_per_s=$(field msg_per_s <<<" $e2e_line") e2e_p99_ms=$(field p99_ms <<<" $e2e_line") e2e_stored=$e2e_stored e2e_acked=$e2e_acked e2e_errors=$(field errors <<<" $e2e_line")"
fi

ratio=$(awk -v a="$stored_acked" -v b="$redis_rate" 'BEGIN {printf "%.2f", a / b}')
echo "# goals (issue 16): >= 100000 stored+acked/s; replay of 100 at connect p99 < 20 ms"
echo "RESULT offline_bench stored_acked_per_s=$stored_acked redis_ops_per_s=$redis_rate ratio=$ratio replay100_p50_ms=$(field p50_ms <<<" $replay_line") replay100_p99_ms=$(field p99_ms <<<" $replay_line") replay100_max_ms=$(field max_ms <<<" $replay_line") replay_full=$(field full <<<" $replay_line")/$(field loads <<<" $replay_line") replay_loads_per_s=$(field loads_per_s <<<" $replay_line") replay_cpu_redis=$(field cpu_redis <<<" $replay_line") cpu_saver=$(field cpu_saver <<<" $store_line") saver_us_per_msg=$saver_us redis_us_per_msg=$redis_us redis_bench_us_per_msg=$redis_bench_us redis_per_message_eval_per_s=$redis_single_rate mariadbd_us_per_msg=$mysql_us mysql=$use_mysql drain_s=$drain write_behind_backlog=$backlog stored_acked_with_mysql_per_s=$with_mysql messages=$messages depth=$depth batch=$batch errors=$(($(field errors <<<" $store_line") + $(field errors <<<" $replay_line")))$e2e_result"
