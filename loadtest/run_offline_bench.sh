#!/usr/bin/env bash
# Offline storage (issue 16 item 7): push-saver storing and acking QoS 1 messages, and
# replaying a user's 100 stored messages at connect, against redis-benchmark on the same Redis
# running saver's Redis work per message as the yardstick, all in one run on this machine.
#
#   loadtest/run_offline_bench.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-release. Build first with
#   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPUSH_BUILD_TESTS=OFF
#   cmake --build build-release --target push-saver push-saver-bench
# Environment (defaults in brackets):
#   MESSAGES [1000000] USERS [10000] DEPTH [16] BATCH [100] PAYLOAD [64]: store-ack
#     (push-saver-bench: D lanes, each Stores BATCH messages, one user each, in one call, then
#     Acks them in one call grouped per user, as a room batches its clients' acks)
#   REPLAY_USERS [5000] REPLAY_DEPTH [16]: replay (each user gets 100 messages, then one
#     Load(user, limit 100) each, REPLAY_DEPTH in flight, as clients connecting)
#   MYSQL [1]: 1 starts mariadbd and gives saver its write-behind (as deployed); 0 Redis only
#   REDIS_N [1000000] REDIS_CLIENTS [8] REDIS_PIPELINE [16]: the redis-benchmark yardstick
#   MAX_SECONDS [120]: each phase's bound (push-saver-bench --max-seconds)
#
# Starts redis-server (no persistence) and mariadbd (a data directory made by
# mariadb-install-db, as tests/support/mariadb_server.cc does) on free loopback ports in a
# temp dir, then push-saver with both. Runs store-ack (saver's CPU measured, then waits for the
# write-behind to reach MySQL: drain_s), replay, and redis-benchmark with
#   EVAL <store script; ack script> 3 in:{b/u<r>} mb:{b/u<r>} ml:{b/u<r>} <id> <value> ...
# a script of the same shape as saver's two per message (ZADD NX, HSET, PTTL/PEXPIRE x2, then
# ZREM, HDEL x2) in ONE call: redis_ops_per_s is Redis's own rate for saver's Redis work per
# stored+acked message, the ceiling saver (two EVALSHA calls per message) is compared to.
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
redis_n=${REDIS_N:-1000000}
redis_clients=${REDIS_CLIENTS:-8}
redis_pipeline=${REDIS_PIPELINE:-16}
max_seconds=${MAX_SECONDS:-120}
for b in push-saver push-saver-bench; do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b: build it first (see the header of $0)" >&2; exit 2; }
done
for b in redis-server redis-cli redis-benchmark; do
  command -v "$b" >/dev/null || { echo "offline_bench: $b not found" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/push-offbench.XXXXXX)
pids=()
# shellcheck source=loadtest/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"  # start, stop_all, field, free_port
trap 'stop_all; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE

fail() { echo "offline_bench: $*" >&2; exit 1; }

# Redis: no persistence (saver's durable copy is MySQL).
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --dir "$tmp" >"$tmp/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 1 200); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p "$rport" ping >/dev/null 2>&1 || fail "redis-server did not start: $(cat "$tmp/redis.log")"

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
fi

cat >"$tmp/saver.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
redis { mode: "single" addresses: "127.0.0.1:$rport" }
$mysql_conf
CONF
start saver RPC_ADDRESS "$bin/push-saver" --config "$tmp/saver.conf"
saver_pid=$pid
saver=$line

echo "# offline storage bench: push-saver ($saver) on redis-server :$rport$([ "$use_mysql" = 1 ] && echo " and mariadbd :$mport (write-behind)")"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) build=$build $(nproc) cores shared by saver, Redis, MariaDB and the load generator; loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"

echo "# store-ack: $messages messages to $users users, $depth lanes x Store($batch) then Ack($batch)"
store_out=$("$bin/push-saver-bench" store-ack --target "$saver" --messages "$messages" \
  --users "$users" --depth "$depth" --batch "$batch" --payload "$payload" --pid "$saver_pid" \
  --max-seconds "$max_seconds" --drain-seconds "$([ "$use_mysql" = 1 ] && echo "$max_seconds" || echo 0)" \
  2>"$tmp/store.err") || fail "store-ack failed: $(cat "$tmp/store.err") $store_out"
echo "$store_out"
store_line=$(grep '^mode=store-ack' <<<"$store_out")
store_stats=$(grep '^STATS' <<<"$store_out")
stored_acked=$(field stored_acked_per_s <<<" $store_line")
seconds=$(field seconds <<<" $store_line")
acked=$(field acked <<<" $store_line")
drain=$(field drain_s <<<" $store_stats")
backlog=$(field write_behind_backlog <<<" $store_stats")
with_mysql=$(awk -v a="$acked" -v s="$seconds" -v d="$drain" 'BEGIN {printf "%.0f", a / (s + d)}')

echo "# replay: $replay_users users x 100 stored, then Load(user, limit 100) each, $replay_depth in flight"
replay_out=$("$bin/push-saver-bench" replay --target "$saver" --users "$replay_users" \
  --per-user 100 --limit 100 --depth "$replay_depth" --batch "$batch" --payload "$payload" \
  --pid "$saver_pid" --max-seconds "$max_seconds" 2>"$tmp/replay.err") ||
  fail "replay failed: $(cat "$tmp/replay.err") $replay_out"
echo "$replay_out"
replay_line=$(grep '^mode=replay' <<<"$replay_out")

# The yardstick, on the same Redis: saver's store script then its ack script as one EVAL per
# message (ids and users random in 0..REDIS_N, so nearly every ZADD NX stores).
store_ack_lua="if redis.call('ZADD', KEYS[1], 'NX', 0, ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local at, now = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, 2 do
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl < 0 or now + ttl < at then redis.call('PEXPIRE', KEYS[i], at - now) end
end
local n = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return n"
now_ms=$(date +%s%3N)
value="$((now_ms + 3600000)) $(head -c "$payload" /dev/zero | tr '\0' p)"
echo "# redis-benchmark: EVAL <store+ack script> per message, $redis_clients clients x pipeline $redis_pipeline, $redis_n calls"
redis_rate=$(redis-benchmark -p "$rport" -c "$redis_clients" -P "$redis_pipeline" -n "$redis_n" \
  -r "$redis_n" -q EVAL "$store_ack_lua" 3 'in:{bench/u__rand_int__}' 'mb:{bench/u__rand_int__}' \
  'ml:{bench/u__rand_int__}' '00000000__rand_int__' "$value" "$((now_ms + 3600000))" "$now_ms" 2>/dev/null |
  tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
[ -n "$redis_rate" ] || fail "redis-benchmark printed no rate"
redis_rate=${redis_rate%.*}
echo "impl=redis-benchmark eval_store_ack_per_s=$redis_rate"

ratio=$(awk -v a="$stored_acked" -v b="$redis_rate" 'BEGIN {printf "%.2f", a / b}')
echo "# goals (issue 16): >= 100000 stored+acked/s; replay of 100 at connect p99 < 20 ms"
echo "# end to end (center stores, room acks, qos 1 through push-load): not in this script"
echo "RESULT offline_bench stored_acked_per_s=$stored_acked redis_ops_per_s=$redis_rate ratio=$ratio replay100_p50_ms=$(field p50_ms <<<" $replay_line") replay100_p99_ms=$(field p99_ms <<<" $replay_line") replay100_max_ms=$(field max_ms <<<" $replay_line") replay_full=$(field full <<<" $replay_line")/$(field loads <<<" $replay_line") replay_loads_per_s=$(field loads_per_s <<<" $replay_line") cpu_saver=$(field cpu_saver <<<" $store_line") mysql=$use_mysql drain_s=$drain write_behind_backlog=$backlog stored_acked_with_mysql_per_s=$with_mysql messages=$messages depth=$depth batch=$batch errors=$(($(field errors <<<" $store_line") + $(field errors <<<" $replay_line")))"
