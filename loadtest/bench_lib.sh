# Shell helpers shared by the loadtest/run_*.sh scripts (sourced, not run). The caller defines
# $tmp (a scratch directory), the array pids (processes to stop on exit) and fail().

# start NAME KEY COMMAND...: starts a process, waits for its "<KEY> ..." stdout line; sets
# $line and $pid.
start() {
  local name=$1 key=$2
  shift 2
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 200); do
    # The file may not exist yet (the background shell opens it): not an error, wait on.
    line=$(awk -v k="$key" '$1 == k {sub($1 " ", ""); print; exit}' "$tmp/$name.out" 2>/dev/null || true)
    [ -n "$line" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$tmp/$name.log" >&2
  fail "$name did not start"
}

# stop_all: SIGTERM every process in $pids (in order: clients first if they were started
# first), SIGKILL what is still there after 5 s, reap them all, empty $pids. Scripts trap it:
#   trap 'stop_all; rm -rf "$tmp"' EXIT
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  pids=()
}

# tree_sum PID FILE AWK_PROGRAM: the sum of what AWK_PROGRAM prints from /proc/<p>/FILE for
# the process and its children (the workers of a supervisor); 0 for a process that is gone.
tree_sum() {
  local p v sum=0
  for p in "$1" $(pgrep -P "$1" || true); do
    v=$(awk "$3" "/proc/$p/$2" 2>/dev/null || true)  # nothing for a zombie's status
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
# CPU ticks (user + system) of a process and its children.
ticks() { tree_sum "$1" stat '{print $14 + $15}'; }

# field NAME: the value of "NAME=value" in the line on stdin.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
# median: of the numbers on stdin, one per line (0 when there are none).
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# free_port: a free loopback TCP port (bound and released).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis: a redis-server without persistence on a free loopback port, its data and log
# ($tmp/redis.log) in $tmp; waits until it answers PING. Sets $rport and $redis_pid (added to
# $pids); calls the script's fail() when it does not start.
start_redis() {
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --dir "$tmp" >"$tmp/redis.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 1 200); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
  redis-cli -p "$rport" ping >/dev/null 2>&1 || fail "redis-server did not start: $(cat "$tmp/redis.log")"
}

# start_queued NAME: push-queued ($bin) on free loopback ports, its data in $tmp/NAME.data and
# its log in $tmp/NAME.log; waits until it answers /ping. Sets $qtcp, $qhttp and $queued_pid
# (added to $pids); calls the script's fail() when it does not start.
start_queued() {
  local name=$1
  mkdir -p "$tmp/$name.data"
  qtcp=127.0.0.1:$(free_port)
  qhttp=127.0.0.1:$(free_port)
  "$bin/push-queued" --tcp-address="$qtcp" --http-address="$qhttp" --data-path="$tmp/$name.data" \
    --log-level=warn >"$tmp/$name.out" 2>"$tmp/$name.log" &
  queued_pid=$!
  pids+=("$queued_pid")
  for _ in $(seq 1 200); do
    [ "$(curl -s --max-time 1 "http://$qhttp/ping" 2>/dev/null)" = "OK" ] && return 0
    kill -0 "$queued_pid" 2>/dev/null || fail "push-queued did not start: $(cat "$tmp/$name.log")"
    sleep 0.05
  done
  fail "push-queued did not answer /ping at $qhttp"
}
