#!/usr/bin/env bash
# Runs the platform on this machine from a build directory, shows a short demo, and stops
# everything it started (by PID) unless --stay is given.
#
#   deploy/run-local.sh [--build DIR] [--stay]
#
# Starts ZooKeeper, redis-server and mariadbd (on free loopback ports, data in the run
# directory), push-saver, two push-register (sharing the 1024 slots by their instances in
# ZooKeeper; room and center follow the same map), push-room (2 workers sharing the client port),
# push-queued, push-center, push-coordinator (with a small webhook standing in for the app's
# server) and push-dispatcher; connects a demo client (push-cli) to the room the dispatcher
# routes it to, sends it a push with curl through center's API, and shows the client printing
# it; then a broadcast through center and queued reaches the client; then a message sent while
# a user is offline is stored by saver and arrives when that user's client connects; then the
# client sends data upstream and the webhook's answer comes back; then an operator kicks the
# client (center -> coordinator -> register -> room). Every service registers
# itself in ZooKeeper (pushctl lists them); room and center find saver there, rooms find the
# coordinator there, the dispatcher finds the rooms, and the demo app is a record in ZooKeeper
# (pushctl app put) that room, center and coordinator read: no service config lists apps. Configs, logs and the demo's token go to a run directory printed at the
# start.
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
for b in push-register push-room push-center push-cli push-queued push-saver pushctl push-dispatcher \
  push-coordinator; do
  [ -x "$bin/$b" ] || { echo "no $b in $bin: build first (see README.md)" >&2; exit 2; }
done

run=$(mktemp -d /tmp/push-run.XXXXXX)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop_all EXIT
echo "run directory: $run (configs, logs)"

# start NAME KEY COMMAND...: starts a process, waits for its "<KEY> ..." line; sets $line.
start() {
  local name=$1 key=$2
  shift 2
  "$@" >"$run/$name.out" 2>"$run/$name.log" &
  pids+=($!)
  for _ in $(seq 1 200); do
    line=$(awk -v k="$key" '$1 == k {sub($1 " ", ""); print; exit}' "$run/$name.out")
    if [ -n "$line" ]; then
      echo "started $name (pid ${pids[-1]}): $line"
      return 0
    fi
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "$name failed to start; its log:" >&2
  cat "$run/$name.log" >&2
  exit 1
}

app=demo
secret=demo-secret-change-me-0123456789
api_key=demo-api-key-change-me-0123456789
# The RPC ports (register, rooms) take calls only from processes that present this key.
cluster_key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
umask 077  # the configs hold the keys

# A free TCP port on 127.0.0.1 (the kernel picks; nothing holds it afterwards).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Redis and MariaDB for saver: throwaway instances, data in the run directory.
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$run" \
  >"$run/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
redis-cli -p "$redis_port" ping | grep -q PONG || { echo "redis-server did not start:" >&2; cat "$run/redis.log" >&2; exit 1; }
echo "started redis-server (pid ${pids[-1]}): 127.0.0.1:$redis_port"

mysql_port=$(free_port)
mysql_password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
mysql_opts=(--innodb-buffer-pool-size=16M --innodb-log-file-size=4M --skip-log-bin --skip-name-resolve)
mariadb-install-db --no-defaults --datadir="$run/mysql" --auth-root-authentication-method=socket \
  --skip-test-db --user="$(id -un)" "${mysql_opts[@]}" >"$run/mariadb-install.log" 2>&1 ||
  { echo "mariadb-install-db failed:" >&2; cat "$run/mariadb-install.log" >&2; exit 1; }
"$(command -v mariadbd || echo /usr/sbin/mariadbd)" --no-defaults --datadir="$run/mysql" --port="$mysql_port" --bind-address=127.0.0.1 \
  --socket="$run/mysqld.sock" --pid-file="$run/mysqld.pid" --log-error="$run/mariadb.log" \
  --user="$(id -un)" "${mysql_opts[@]}" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
  mariadb --no-defaults -S "$run/mysqld.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.05
done
mariadb --no-defaults -S "$run/mysqld.sock" -uroot -e "
  CREATE DATABASE push; CREATE USER 'push'@'127.0.0.1' IDENTIFIED BY '$mysql_password';
  GRANT ALL PRIVILEGES ON push.* TO 'push'@'127.0.0.1';" ||
  { echo "mariadbd did not start:" >&2; cat "$run/mariadb.log" >&2; exit 1; }
echo "started mariadbd (pid ${pids[-1]}): 127.0.0.1:$mysql_port"

# ZooKeeper: one standalone server, data in the run directory.
zk_jar=/usr/share/java/zookeeper.jar
[ -r "$zk_jar" ] || { echo "no $zk_jar: run deploy/install-deps.sh (package zookeeper)" >&2; exit 2; }
zk_cp=$zk_jar
[ -r /usr/share/java/slf4j-simple.jar ] && zk_cp=$zk_cp:/usr/share/java/slf4j-simple.jar
zk_port=$(free_port)
mkdir -p "$run/zookeeper"
cat >"$run/zoo.cfg" <<CONF
tickTime=500
dataDir=$run/zookeeper
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok
CONF
java -Xms32m -Xmx256m -XX:+UseSerialGC -Djava.net.preferIPv4Stack=true \
  -Dzookeeper.admin.enableServer=false -Dorg.slf4j.simpleLogger.logFile="$run/zookeeper.log" \
  -cp "$zk_cp" org.apache.zookeeper.server.ZooKeeperServerMain "$run/zoo.cfg" \
  >"$run/zookeeper.out" 2>&1 &
pids+=($!)
zk=127.0.0.1:$zk_port
export PUSH_ZOOKEEPER=$zk PUSH_ZK_ROOT=/push/local
for _ in $(seq 1 300); do
  "$bin/pushctl" --timeout-ms 200 services >/dev/null 2>&1 && break
  kill -0 "${pids[-1]}" 2>/dev/null || break
  sleep 0.1
done
"$bin/pushctl" --timeout-ms 1000 services >/dev/null ||
  { echo "ZooKeeper did not start:" >&2; cat "$run/zookeeper.out" "$run/zookeeper.log" >&2 2>/dev/null; exit 1; }
echo "started ZooKeeper (pid ${pids[-1]}): $zk"
# Every service's discovery block: registered under /push/local/services/<svc>.
discovery="discovery { zookeeper: \"$zk\" root: \"/push/local\" session_timeout_ms: 4000 refresh_ms: 1000 }"

cat >"$run/saver.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
redis { addresses: "127.0.0.1:$redis_port" }
mysql { host: "127.0.0.1" port: $mysql_port user: "push" password: "$mysql_password" database: "push" }
cluster_key: "$cluster_key"
$discovery
CONF
start saver RPC_ADDRESS "$bin/push-saver" --config "$run/saver.conf"
saver=$line
saver_admin=$(awk '$1 == "ADMIN_ADDRESS" {print $2; exit}' "$run/saver.out")

# Register's slots, and room's and center's map of them, come from services/register in
# ZooKeeper: a second register started with this config takes about half of the slots.
cat >"$run/register.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
slots: "auto"
cluster_key: "$cluster_key"
$discovery
CONF
start register RPC_ADDRESS "$bin/push-register" --config "$run/register.conf"
start register2 RPC_ADDRESS "$bin/push-register" --config "$run/register.conf"

# The app's own server, as far as the demo needs one: a webhook that logs what coordinator
# POSTs (upstream data, online/offline events) and answers upstream with a small JSON reply.
cat >"$run/webhook.py" <<'PY'
import http.server, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as log:
            log.write(self.path.encode() + b" " + body + b"\n")
        out = b'{"reply":"thanks, got it"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
print("WEBHOOK 127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
PY
start webhook WEBHOOK python3 "$run/webhook.py" /dev/null "$run/webhook.requests"
webhook=$line

# The demo app's record: no service below lists apps in its config; room, center and
# coordinator read apps/<app> from ZooKeeper and follow edits live (secret rotation, keys,
# limits, webhooks) without a restart.
cat >"$run/app.json" <<JSON
{"secrets":[{"id":"k1","secret":"$secret"}],
 "api_keys":["$api_key"],
 "webhooks":{"upstream":{"default":"http://$webhook/upstream"},"events":"http://$webhook/events"},
 "events":["online","offline"],
 "push_rate_per_s":1000}
JSON
"$bin/pushctl" app put "$app" "$run/app.json"
echo "wrote the app record apps/$app (pushctl app put $app $run/app.json)"

cat >"$run/coordinator.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
register { discover: true }
cluster_key: "$cluster_key"
$discovery
CONF
start coordinator RPC_ADDRESS "$bin/push-coordinator" --config "$run/coordinator.conf"
coordinator=$line

# queued first: center publishes broadcasts to it, rooms consume them from it.
mkdir -p "$run/queued-data"
start queued TCP_ADDRESS "$bin/push-queued" --tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0 \
  --data-path="$run/queued-data"
queued_http=$(awk '$1 == "HTTP_ADDRESS" {print $2; exit}' "$run/queued.out")
queued_tcp=$line

cat >"$run/room.conf" <<CONF
name: "room"
tcp { address: "127.0.0.1:0" }
websocket { address: "127.0.0.1:0" }
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
register { discover: true }
queued: "$queued_tcp"
saver { discover: true }
coordinator { discover: true }
cluster_key: "$cluster_key"
$discovery
CONF
start room ROOM "$bin/push-room" --config "$run/room.conf" --workers 2
room_tcp=$(sed -n 's/.* tcp=\([^ ]*\).*/\1/p' <<<"$line")
room_ws=$(sed -n 's/.* ws=\([^ ]*\).*/\1/p' <<<"$line")

cat >"$run/center.conf" <<CONF
http { listen { address: "127.0.0.1:0" } }
register { discover: true }
queued: "$queued_tcp"
saver { discover: true }
coordinator { discover: true }
cluster_key: "$cluster_key"
$discovery
CONF
start center HTTP_ADDRESS "$bin/push-center" --config "$run/center.conf"
center=$line

cat >"$run/dispatcher.conf" <<CONF
http { listen { address: "127.0.0.1:0" } }
zookeeper { hosts: "$zk" root: "/push/local" }
CONF
start dispatcher HTTP_ADDRESS "$bin/push-dispatcher" --config "$run/dispatcher.conf"
dispatcher=$line

echo
echo "== 0. every service registered itself in ZooKeeper ($zk); room and center found saver and"
echo "==    the two registers there (each owns about half of the slots) =="
echo "\$ pushctl apps"
"$bin/pushctl" apps
for _ in $(seq 1 100); do
  [ "$("$bin/pushctl" services | awk 'NR > 1 {print $1}' | sort -u | tr '\n' ' ')" = "center coordinator register room saver " ] &&
    [ "$("$bin/pushctl" services room | awk 'NR > 1' | wc -l)" -eq 2 ] &&
    [ "$("$bin/pushctl" services register | awk 'NR > 1' | wc -l)" -eq 2 ] && break
  sleep 0.1
done
echo "\$ pushctl --zk $zk --root /push/local services"
"$bin/pushctl" services

echo
echo "== 1. the app's server mints a token for user alice on device phone =="
token=$("$bin/push-cli" mint --app "$app" --user alice --device phone --secret "$secret" --ttl 3600)
echo "$token" >"$run/alice.token"
echo "token: $token"

echo
echo "== 2. alice's client asks the dispatcher for a route and connects to the first room =="
echo "\$ curl 'http://$dispatcher/v1/route?app=$app&user=alice&net=wifi'"
for _ in $(seq 1 100); do
  route=$(curl -s "http://$dispatcher/v1/route?app=$app&user=alice&net=wifi")
  grep -q '"tcp":\["' <<<"$route" && break
  sleep 0.1
done
echo "$route"
first_tcp=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["tcp"][0])' <<<"$route") ||
  { echo "no route from the dispatcher; its log:" >&2; cat "$run/dispatcher.log" >&2; exit 1; }
echo "(the room it will try first: $first_tcp; push-cli asks the dispatcher itself)"
"$bin/push-cli" connect --dispatcher "http://$dispatcher" --token "$token" --exit-after 1 >"$run/cli.out" 2>"$run/cli.log" &
cli=$!
pids+=($cli)
for _ in $(seq 1 100); do grep -q "^STATE online" "$run/cli.out" && break; sleep 0.05; done
grep "^STATE online" "$run/cli.out" || { echo "client did not come online:" >&2; cat "$run/cli.log" >&2; exit 1; }
for _ in $(seq 1 100); do
  curl -s -H "Authorization: Bearer $api_key" "http://$center/v1/apps/$app/users/alice" | grep -q '"online":true' && break
  sleep 0.05
done

echo
echo "== 3. an operator pushes through center ($center) =="
echo "\$ curl -H 'Authorization: Bearer ...' -d '{\"app\":\"$app\",\"users\":[\"alice\"],\"payload\":\"hello alice\"}' http://$center/v1/push"
curl -s -H "Authorization: Bearer $api_key" -H "Content-Type: application/json" \
  -d "{\"app\":\"$app\",\"users\":[\"alice\"],\"payload\":\"hello alice\"}" "http://$center/v1/push"
echo

echo
echo "== 4. the client prints it (and acks it) =="
wait "$cli" || true
grep "^PUSH" "$run/cli.out" || { echo "no push received; client log:" >&2; cat "$run/cli.log" >&2; exit 1; }

echo
echo "== 5. the queue core: queued, an nsqd drop-in (broadcasts travel through it, step 6) =="
echo "\$ curl -d 'hello queue' 'http://$queued_http/pub?topic=demo'"
curl -s -d 'hello queue' "http://$queued_http/pub?topic=demo"
echo
curl -s "http://$queued_http/stats?topic=demo&include_mem=false" | grep -E "^\s+\[demo" ||
  { echo "queued did not take the message; its log:" >&2; cat "$run/queued.log" >&2; exit 1; }

echo
echo "== 6. an operator broadcasts to every user of $app: center -> queued topic bcast.$app -> every room =="
# Both room workers subscribe to bcast.$app with a channel each; wait until they have.
for admin in $(sed -n 's/.* admin=\([^ ]*\).*/\1/p' "$run/room.out"); do
  for _ in $(seq 1 100); do
    curl -s "http://$admin/status" | grep -q '"queued_connections":1' && break
    sleep 0.05
  done
done
"$bin/push-cli" connect --server "$room_tcp" --token "$token" --exit-after 1 >"$run/cli2.out" 2>"$run/cli2.log" &
cli=$!
pids+=($cli)
for _ in $(seq 1 100); do grep -q "^STATE online" "$run/cli2.out" && break; sleep 0.05; done
echo "\$ curl -H 'Authorization: Bearer ...' -d '{\"app\":\"$app\",\"payload\":\"hello everyone\"}' http://$center/v1/broadcast"
curl -s -H "Authorization: Bearer $api_key" -d "{\"app\":\"$app\",\"payload\":\"hello everyone\"}" \
  "http://$center/v1/broadcast" | tee "$run/broadcast.out"
echo
grep -q '"sequence"' "$run/broadcast.out" ||
  { echo "center did not take the broadcast; its log:" >&2; cat "$run/center.log" >&2; exit 1; }
echo "alice's client prints it (broadcast_seq is the app's broadcast sequence):"
wait "$cli" || true
grep "^PUSH" "$run/cli2.out" ||
  { echo "no broadcast received; client and room logs:" >&2; cat "$run/cli2.log" "$run/room.log" >&2; exit 1; }

echo
echo "== 7. a message for bob, who is offline: saver stores it (Redis, written behind to MySQL) =="
echo "\$ curl -H 'Authorization: Bearer ...' -d '{\"app\":\"$app\",\"users\":[\"bob\"],\"payload\":\"while you were away\",\"qos\":1}' http://$center/v1/push"
curl -s -H "Authorization: Bearer $api_key" -H "Content-Type: application/json" \
  -d "{\"app\":\"$app\",\"users\":[\"bob\"],\"payload\":\"while you were away\",\"qos\":1}" \
  "http://$center/v1/push" | tee "$run/offline.out"
echo
grep -q '"stored"' "$run/offline.out" ||
  { echo "center did not store it; center and saver logs:" >&2; cat "$run/center.log" "$run/saver.log" >&2; exit 1; }
echo "bob's client connects and prints it (then acks it: saver forgets it):"
bob=$("$bin/push-cli" mint --app "$app" --user bob --device laptop --secret "$secret" --ttl 3600)
"$bin/push-cli" connect --server "$room_tcp" --token "$bob" --exit-after 1 >"$run/bob.out" 2>"$run/bob.log" || true
grep "^PUSH" "$run/bob.out" ||
  { echo "bob got nothing; client, room and saver logs:" >&2; cat "$run/bob.log" "$run/room.log" "$run/saver.log" >&2; exit 1; }
for _ in $(seq 1 100); do curl -s "http://$saver_admin/status" | grep -q '"acked":1' && break; sleep 0.05; done
echo "saver: $(curl -s "http://$saver_admin/status" | grep -o '"stored":[0-9]*,"loaded":[0-9]*,"acked":[0-9]*')"

echo
echo "== 8. alice's client sends data upstream: room -> coordinator -> the app's webhook, whose answer comes back =="
"$bin/push-cli" connect --server "$room_tcp" --token "$token" --upstream "hello app" >"$run/up.out" 2>"$run/up.log" &
cli=$!
pids+=($cli)
for _ in $(seq 1 100); do grep -q "^UPSTREAM_ACK" "$run/up.out" && break; sleep 0.05; done
kill "$cli" 2>/dev/null || true
wait "$cli" 2>/dev/null || true
grep "^UPSTREAM_ACK" "$run/up.out" ||
  { echo "no upstream answer; client, room and coordinator logs:" >&2; cat "$run/up.log" "$run/room.log" "$run/coordinator.log" >&2; exit 1; }
for _ in $(seq 1 100); do grep -q "^/events" "$run/webhook.requests" 2>/dev/null && break; sleep 0.05; done
echo "the app's webhook received:"
cut -c1-220 "$run/webhook.requests"

echo
echo "== 9. an operator kicks alice: center -> coordinator -> register -> her room, which closes her connection =="
"$bin/push-cli" connect --server "$room_tcp" --token "$token" >"$run/kick.out" 2>"$run/kick.log" &
cli=$!
pids+=($cli)
for _ in $(seq 1 100); do grep -q "^STATE online" "$run/kick.out" && break; sleep 0.05; done
echo "\$ curl -H 'Authorization: Bearer ...' -d '{\"reason\":\"demo over\"}' http://$center/v1/apps/$app/users/alice/kick"
for _ in $(seq 1 100); do
  curl -s -H "Authorization: Bearer $api_key" -d '{"reason":"demo over"}' \
    "http://$center/v1/apps/$app/users/alice/kick" >"$run/kick.json"
  grep -q '"kicked":1' "$run/kick.json" && break
  sleep 0.05  # register hears of her session a few ms after she is online
done
cat "$run/kick.json"
echo
kicked=0
wait "$cli" 2>/dev/null || kicked=$?
[ "$kicked" -eq 3 ] ||
  { echo "alice's client was not kicked (exit $kicked); center, coordinator and room logs:" >&2; cat "$run/center.log" "$run/coordinator.log" "$run/room.log" >&2; exit 1; }
echo "alice's client: $(grep '^STATE' "$run/kick.out" | tail -1) (exit 3: kicked)"

if [ "$stay" -eq 1 ]; then
  cat <<MSG

running. Try:
  token=\$($bin/push-cli mint --app $app --user bob --device laptop --secret $secret)
  $bin/push-cli connect --server $room_tcp --token \$token
  curl -H 'Authorization: Bearer $api_key' -d '{"app":"$app","users":["bob"],"payload":"hi"}' http://$center/v1/push
  curl -H 'Authorization: Bearer $api_key' http://$center/v1/apps/$app/users/bob
  curl -H 'Authorization: Bearer $api_key' -d '{"app":"$app","payload":"to all"}' http://$center/v1/broadcast
WebSocket clients: ws://$room_ws/ws   Metrics: http://$center/metrics  Saver: http://$saver_admin/status
Routes: curl 'http://$dispatcher/v1/route?app=$app&user=bob&net=cellular'
Services in ZooKeeper: PUSH_ZOOKEEPER=$zk PUSH_ZK_ROOT=/push/local $bin/pushctl services
queued (NSQ protocol): nsq://$(awk '$1 == "TCP_ADDRESS" {print $2; exit}' "$run/queued.out")  HTTP: http://$queued_http/stats
press Ctrl-C to stop
MSG
  wait
fi
echo
echo "demo done; stopping"
