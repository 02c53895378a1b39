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
    line=$(awk -v k="$key" '$1 == k {sub($1 " ", ""); print; exit}' "$tmp/$name.out")
    [ -n "$line" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$tmp/$name.log" >&2
  fail "$name did not start"
}
