#!/usr/bin/env bash
# GET /v1/route of push-dispatcher next to nginx serving a static file of the same size
# (loadtest/README.md, "Route benchmark"). Both driven by push-http-bench with the same
# connections, depth and duration; the dispatcher routes over 20 static rooms (2 regions,
# 5 hosts, 2 TCP + 2 WebSocket endpoints each) for 100000 different users.
#
#   loadtest/run_route_bench.sh BUILD_DIR [--seconds T] [--connections C] [--depth D]
#
# BUILD_DIR is a Release build with bin/push-dispatcher and bin/push-http-bench. nginx is
# /usr/sbin/nginx (deploy/install-deps.sh installs nginx-light), run in the foreground with its
# own prefix and config in a temporary directory, on a free 127.0.0.1 port, stopped by PID.
# Prints one line per run, then
#   RESULT route_bench dispatcher_rps= dispatcher_p99_ms= nginx_rps= nginx_p99_ms= ratio= ...
# where the main figures are one dispatcher process against nginx with worker_processes 1
# (ratio = dispatcher_rps / nginx_rps); the 2-process runs follow as *_2_* keys.
set -euo pipefail

build=${1:?usage: run_route_bench.sh BUILD_DIR [--seconds T] [--connections C] [--depth D]}
shift
seconds=10
connections=32
depth=1
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --depth) depth=$2; shift 2 ;;
    *) echo "run_route_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=$(cd "$build" && pwd)/bin
nginx=${NGINX:-/usr/sbin/nginx}
for b in "$bin/push-dispatcher" "$bin/push-http-bench" "$nginx"; do
  [ -x "$b" ] || { echo "run_route_bench: $b not found (nginx: apt-get install nginx-light)" >&2; exit 2; }
done

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
# nginx's workers run as an unprivileged user when started as root: they must read the file.
chmod 755 "$tmp"
pids=()
fail() { echo "run_route_bench: $*" >&2; exit 1; }
# shellcheck source=loadtest/bench_lib.sh
source "$here/bench_lib.sh"
trap 'stop_all; rm -rf "$tmp"' EXIT

# 20 rooms: 15 in r1, 5 in r2, on hosts 127.0.0.1..127.0.0.5, each with tcp, tcp.1, ws, ws.1.
{
  echo 'log { level: "warn" }'
  echo 'default_region: "r1"'
  for i in $(seq 0 19); do
    host=127.0.0.$((i % 5 + 1))
    port=$((7000 + 10 * (i / 5)))
    region=r1
    [ "$i" -ge 15 ] && region=r2
    echo "rooms { id: \"room$i\" region: \"$region\""
    echo "  endpoints { key: \"tcp\" value: \"$host:$port\" }"
    echo "  endpoints { key: \"tcp.1\" value: \"$host:443\" }"
    echo "  endpoints { key: \"ws\" value: \"$host:$((port + 1))\" }"
    echo "  endpoints { key: \"ws.1\" value: \"$host:80\" }"
    echo "}"
  done
} >"$tmp/dispatcher.conf"

route_path='/v1/route?app=bench&net=wifi&region=r1&retry=0&user=u'

# run_bench NAME ADDRESS PATH USERS: one push-http-bench run; sets $out.
run_bench() {
  out=$("$bin/push-http-bench" --server "$2" --path "$3" --users "$4" \
    --connections "$connections" --depth "$depth" --seconds "$seconds" --warmup 1) ||
    fail "$1: push-http-bench failed: $out"
  [ "$(echo " $out" | field non2xx)" = 0 ] || fail "$1: non-2xx answers: $out"
  echo "$1 $out"
}

# dispatcher WORKERS: starts push-dispatcher, benchmarks it, stops it; sets d_rps, d_p99.
dispatcher() {
  start dispatcher HTTP_ADDRESS "$bin/push-dispatcher" --config "$tmp/dispatcher.conf" \
    --http 127.0.0.1:0 --workers "$1"
  local addr=$line
  # The static file for nginx: a real answer (the sizes of different users' answers differ
  # by a few bytes at most).
  mkdir -p "$tmp/www"
  curl -sf "http://$addr${route_path}12345" >"$tmp/www/route.json" || fail "no route answer"
  run_bench "dispatcher workers=$1" "$addr" "$route_path" 100000
  d_rps=$(echo " $out" | field rps)
  d_p99=$(echo " $out" | field p99_ms)
  stop_all
}

# nginx_run WORKERS: nginx serving $tmp/www/route.json; sets n_rps, n_p99.
nginx_run() {
  local port
  port=$(free_port)
  mkdir -p "$tmp/nginx/logs" "$tmp/nginx/tmp"
  cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes $1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/json;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=16;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path $tmp/nginx/tmp/body;
  fastcgi_temp_path $tmp/nginx/tmp/fastcgi;
  uwsgi_temp_path $tmp/nginx/tmp/uwsgi;
  scgi_temp_path $tmp/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $tmp/www;
  }
}
CONF
  "$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" \
    >"$tmp/nginx/out.log" 2>&1 &
  pids+=("$!")
  local ok=
  for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$port/route.json" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.05
  done
  [ -n "$ok" ] || { cat "$tmp/nginx/logs/error.log" "$tmp/nginx/out.log" >&2; fail "nginx did not start"; }
  run_bench "nginx worker_processes=$1" "127.0.0.1:$port" /route.json 0
  n_rps=$(echo " $out" | field rps)
  n_p99=$(echo " $out" | field p99_ms)
  stop_all
}

echo "route_bench: connections=$connections depth=$depth seconds=$seconds rooms=20 answer_bytes=(below)"
dispatcher 1
d1_rps=$d_rps d1_p99=$d_p99
echo "answer_bytes=$(wc -c <"$tmp/www/route.json")"
nginx_run 1
n1_rps=$n_rps n1_p99=$n_p99
dispatcher 2
d2_rps=$d_rps d2_p99=$d_p99
nginx_run 2
n2_rps=$n_rps n2_p99=$n_p99

ratio=$(awk -v a="$d1_rps" -v b="$n1_rps" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
ratio2=$(awk -v a="$d2_rps" -v b="$n2_rps" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
echo "RESULT route_bench dispatcher_rps=$d1_rps dispatcher_p99_ms=$d1_p99 nginx_rps=$n1_rps" \
  "nginx_p99_ms=$n1_p99 ratio=$ratio dispatcher_2_rps=$d2_rps dispatcher_2_p99_ms=$d2_p99" \
  "nginx_2_rps=$n2_rps nginx_2_p99_ms=$n2_p99 ratio_2=$ratio2 answer_bytes=$(wc -c <"$tmp/www/route.json")"
