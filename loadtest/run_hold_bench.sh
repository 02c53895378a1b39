#!/usr/bin/env bash
# Many idle connections held with heartbeats flowing: push-register + push-room on this machine,
# push-loadtest hold against them (issue 18's million-connection run is this script at scale).
#
#   loadtest/run_hold_bench.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-release. Build first with
#   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPUSH_BUILD_TESTS=OFF
#   cmake --build build-release --target push-loadtest push-load push-room push-register push-center
# Environment: SCENARIO (hold, reconnect-storm, unicast or broadcast: below), CONNECTIONS (100000), HOLD_SECONDS (60), HEARTBEAT (30: the room proposes it to
# wifi clients), CONNECT_RATE (10000 a second in all), ROOM_WORKERS (default: one per 16000
# connections: a process may open 20000 files here), PER_WORKER (push-load worker size, 18000),
# REGISTERS (register shards, slots split evenly; default one per 250000 connections),
# LOADGEN_NICE (0: the nice value push-loadtest and its workers run at), DISPATCHER (1: the
# clients ask push-dispatcher, a static list of the room, for their room before connecting),
# ROOM_GATHER_US and LOADGEN_GATHER_US (0: the --input-gather-us of the room workers and of the
# load workers: after a loop turn that read, sleep that long before polling again; RESULT
# lines carry both), EHASH_ENTRIES (0: the run uses this machine's network namespace; N: it
# runs in a network namespace of its own, created and deleted by this script, whose TCP
# established-connection hash table has N buckets, rounded up to a power of two:
# net.ipv4.tcp_child_ehash_entries, Linux >= 6.1, root. The host's table is sized at boot from
# RAM, 262144 here, and a million connections over loopback are two million sockets in it:
# chains of 8, and the lookup every segment takes was 13% of all CPU at 1M. RESULT lines carry
# ehash_entries=, the table the run had), TCP_CC (empty: the machine's congestion control; a name: the run is in a namespace of
# its own, as for EHASH_ENTRIES, whose net.ipv4.tcp_congestion_control is that; RESULT lines
# carry tcp_cc=).
#
# Registers are sharded because on this one shared 2-core machine, once the ramp asks for more
# than the cores can do, the scheduler gives each of the ~120 runnable processes an equal
# share, and one register's 1/120 was less than it needs: its answers came 5 s late, the
# rooms' batches timed out and they were pulled again and again. (LOADGEN_NICE=10, clients
# standing for other machines, starved the ramp instead: 1-4k connections/s.)
#
# Source addresses: 127.0.(100 + k).1-254, as many /24s as the connections need at 25000 per
# address (ip_local_port_range). The room's CPU and the register's are sampled between
# push-loadtest's HOLDING and HELD lines; the room's RSS (all workers) when HOLDING; the
# register's push_register_rooms_lost_total before and after (a room dropped while alive means
# the register missed its heartbeats).
#
# Prints push-loadtest's progress and RESULT line, then
#   RESULT hold_bench connections= ready= failed= lost= connect_s= held_s= heartbeat_s=
#          room_workers= registers= room_cores= register_cores= pings_per_s= room_us_per_ping=
#          room_rss_mb= room_bytes_per_conn= rtt_p99_ms= rooms_lost= loadgen_cores=
#          kernel_slab_mb= kernel_tcp_buf_mb= kernel_bytes_per_conn=
# (kernel memory when all are connected, over the start: both ends of every connection, room
# and clients, are on this machine). rooms_lost counts the rooms the registers dropped from
# the start to the scenario's end (HELD, SENT or BACK); every RESULT line also has
# rooms_lost_ramp= (of those, before all were connected) and rooms_lost_teardown= (after the
# end, while push-loadtest closed its million connections at once: on these 2 shared cores the
# rooms' heartbeats then go unanswered for over room_timeout_ms, 10 s).
#
# SCENARIO=reconnect-storm: once all are connected, one room worker is killed (kill -9, the first
# of the supervisor's children; the supervisor starts it again) and push-loadtest reconnect-storm
# times the return of every client it held (HOLD_SECONDS: how long they may take). Then
#   RESULT storm_bench connections= ready= failed= room_workers= registers= dropped=
#          reconnected= reconnect_failed= not_back= back_s= back_per_s= rooms_lost= room_rss_mb=
#          kernel_slab_mb= kernel_tcp_buf_mb= kernel_bytes_per_conn=
#
# SCENARIO=unicast: push-center too (CENTER_WORKERS processes, default 1; the app's rate limit
# out of the way), and once all are connected push-loadtest unicast sends RATE pushes a second
# (default 10000) for HOLD_SECONDS through center's POST /v1/push, each to one connected user,
# every one counted by its receiver. The CPU of room, register and center is sampled between
# push-loadtest's SENDING and SENT lines (the room's includes the heartbeats it answers). Then
#   RESULT unicast_bench connections= ready= failed= lost= rate= seconds= sent= unique=
#          undelivered= duplicates= misrouted= send_errors= skipped= offline= msg_per_s=
#          lat_p50_ms= lat_p99_ms= lat_max_ms= room_workers= registers= center_workers=
#          room_cores= register_cores= center_cores= room_us_per_msg= register_us_per_msg=
#          center_us_per_msg= machine_user_cores= machine_sys_cores= machine_softirq_cores=
#          machine_steal_cores= machine_idle_cores= loadgen_cores= rooms_lost=
# With SAVER=1 a redis-server (no persistence) and push-saver run too, and room and center use
# them (QoS 1 pushes stored before they are sent, replayed at reconnect). With STORM=1 the
# first room worker is killed (kill -9) STORM_AFTER seconds into the sending (default a third),
# its clients reconnecting as the SDK does; the RESULT line then also has dropped= not_back=
# back_s= kept= target_errors= (with saver, kept pushes must all be received: undelivered=0).
#
# SCENARIO=upstream: push-coordinator too (the app's upstream_url pointing at push-loadtest's
# webhook receiver on a free port; the room forwards to the coordinator), and once all are
# connected push-loadtest upstream has the clients send RATE Upstream frames a second (default
# 1000) of PAYLOAD bytes (default 64) for HOLD_SECONDS; every ack and every item at the webhook
# is counted. The CPU of room and coordinator is sampled between SENDING and RECEIVED. Then
#   RESULT upstream_bench connections= ready= failed= lost= rate= seconds= sent= acked_ok=
#          ack_errors= unanswered= webhook_unique= duplicates= lost_items= skipped= up_per_s=
#          lat_p50_ms= lat_p99_ms= lat_max_ms= room_workers= room_cores= coordinator_cores=
#          room_us_per_up= coordinator_us_per_up= machine_*_cores= loadgen_cores= rooms_lost=
#
# SCENARIO=broadcast: push-queued and push-center too (the app's broadcast limit out of the way;
# room and center use queued), and once all are connected push-loadtest broadcast posts COUNT
# broadcasts (default 5) at RATE a second (default 1) of PAYLOAD bytes (default 256, qos 0)
# through center's POST /v1/broadcast; every copy is counted per client. The CPU of room,
# queued and center is sampled between push-loadtest's SENDING and RECEIVED (every copy in).
# Then
#   RESULT broadcast_bench connections= ready= failed= lost= broadcasts= broadcasts_ok=
#          expected= unique= missing= duplicates= deliveries_per_s= lat_p50_ms= lat_p99_ms=
#          last_client_ms= room_workers= registers= room_cores= queued_cores= center_cores=
#          room_us_per_copy= register_cores= machine_user_cores= machine_sys_cores=
#          machine_softirq_cores= machine_steal_cores= machine_idle_cores= floor_connections= floor_ms= floor_us_per_copy= floor_ratio=
#          floor_all_ms= loadgen_cores= rooms_lost=
# (room_us_per_copy: the room's CPU over the window, heartbeats included, per copy delivered;
# last_client_ms: from the API call to the latest copy of any broadcast). Then, with the
# platform stopped, push-broadcast-floor (raw epoll, one write() per subscriber) sends one
# frame to as many subscribers as one room worker held (at most 18000), received by push-load
# raw-broadcast: floor_us_per_copy is its CPU per copy (on loopback the writer's CPU also runs
# the receiving side of TCP), floor_ratio = floor_us_per_copy / room_us_per_copy (1: the room
# costs what the kernel does), floor_all_ms = the least time this machine's cores need to
# write one copy to every connection at the floor's cost.
# The report (JSON + HTML) stays in $OUT (default /tmp/push-hold-report). Stops every process it
# started by PID (also on error or Ctrl-C) and removes its temp dir.
set -euo pipefail

ehash_entries=${EHASH_ENTRIES:-0}
tcp_cc=${TCP_CC:-}
case $ehash_entries in *[!0-9]*) echo "EHASH_ENTRIES: a number of buckets" >&2; exit 2 ;; esac
ehash_entries=$((10#$ehash_entries))
if { [ "$ehash_entries" != 0 ] || [ -n "$tcp_cc" ]; } && [ -z "${PUSH_HOLD_NETNS:-}" ]; then
  # The whole run again, inside a namespace of its own: every process it starts, and the
  # loopback they talk over, see that namespace's hash table and congestion control. The
  # namespace takes the host's listen-queue and port-range settings (a new namespace starts
  # from defaults, and its tcp_max_syn_backlog from its table's size), so that only the
  # table and the congestion control differ from a run without it.
  command -v ip >/dev/null || { echo "EHASH_ENTRIES and TCP_CC need ip (iproute2)" >&2; exit 2; }
  if [ -n "$tcp_cc" ]; then
    grep -qw -- "$tcp_cc" /proc/sys/net/ipv4/tcp_available_congestion_control ||
      { echo "TCP_CC: not one of $(cat /proc/sys/net/ipv4/tcp_available_congestion_control)" >&2; exit 2; }
  fi
  if [ "$ehash_entries" != 0 ] && [ ! -e /proc/sys/net/ipv4/tcp_child_ehash_entries ]; then
    echo "EHASH_ENTRIES: this kernel has no net.ipv4.tcp_child_ehash_entries (Linux >= 6.1)" >&2
    exit 2
  fi
  netns=push-hold-$$
  maker=push-hold-maker-$$
  allowed_before=
  child=
  cleanup_netns() {
    # A host-wide list changed for a moment (below) is put back whatever ends the run.
    [ -z "$allowed_before" ] || sysctl -qw net.ipv4.tcp_allowed_congestion_control="$allowed_before" || true
    ip netns delete "$maker" 2>/dev/null || true
    ip netns delete "$netns" 2>/dev/null || true
  }
  trap cleanup_netns EXIT
  trap 'exit 130' INT TERM HUP PIPE
  if ip netns list | grep -qw -- "$netns"; then echo "namespace $netns exists already" >&2; netns=; exit 1; fi
  if [ "$ehash_entries" != 0 ]; then
    # The table's size is read from the creating process's namespace: set it in a throwaway
    # namespace and create the run's from inside that one. The host's setting is not touched.
    # (`ip netns add` inside it would mount the name in its private mount namespace: a
    # process unshares the new namespace there and the name is attached to it from here.)
    command -v unshare >/dev/null || { echo "EHASH_ENTRIES needs unshare (util-linux)" >&2; exit 2; }
    ip netns add "$maker"
    ip netns exec "$maker" sysctl -qw net.ipv4.tcp_child_ehash_entries="$ehash_entries"
    ip netns exec "$maker" unshare --net sleep 60 &
    holder=$!
    for _ in $(seq 1 100); do
      [ "$(cat "/proc/$holder/comm" 2>/dev/null)" = sleep ] && break
      sleep 0.05
    done
    ip netns attach "$netns" "$holder"
    kill "$holder" 2>/dev/null || true
    wait "$holder" 2>/dev/null || true
    ip netns delete "$maker"
  else
    ip netns add "$netns"
  fi
  ip netns exec "$netns" ip link set lo up
  for key in net.core.somaxconn net.ipv4.tcp_max_syn_backlog net.ipv4.ip_local_port_range \
    net.ipv4.tcp_max_tw_buckets; do
    ip netns exec "$netns" sysctl -qw "$key=$(sysctl -n "$key")"
  done
  if [ -n "$tcp_cc" ]; then
    # Another namespace may only pick an allowed one (a host-wide list): allow it just long
    # enough to pick it; cleanup_netns puts the list back if anything stops us in between.
    allowed_before=$(sysctl -n net.ipv4.tcp_allowed_congestion_control)
    sysctl -qw net.ipv4.tcp_allowed_congestion_control="$allowed_before $tcp_cc"
    ip netns exec "$netns" sysctl -qw net.ipv4.tcp_congestion_control="$tcp_cc"
    sysctl -qw net.ipv4.tcp_allowed_congestion_control="$allowed_before"
    allowed_before=
  fi
  # In the background, so that a TERM to this script reaches the run (a foreground command
  # would hold the trap until it ended); the run cleans up after itself on TERM.
  PUSH_HOLD_NETNS=$netns ip netns exec "$netns" bash "$0" "$@" &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 130' INT TERM HUP
  rc=0
  wait "$child" || rc=$?
  exit "$rc"
fi
# The table this run has (negative: the host's, shared), and what the namespace was given.
ehash_seen=$(sysctl -n net.ipv4.tcp_ehash_entries 2>/dev/null || echo unknown)
cc_seen=$(sysctl -n net.ipv4.tcp_congestion_control 2>/dev/null || echo unknown)
if [ -n "${PUSH_HOLD_NETNS:-}" ] && [ "$ehash_entries" != 0 ]; then
  # The kernel rounds up to a power of two, and shares the host's table (negative) when it
  # cannot allocate one: then the run would not be what was asked.
  case $ehash_seen in -* | unknown) echo "EHASH_ENTRIES=$ehash_entries: the namespace got no table of its own ($ehash_seen)" >&2; exit 1 ;; esac
  [ "$ehash_seen" -ge "$ehash_entries" ] || { echo "EHASH_ENTRIES=$ehash_entries: the namespace's table has $ehash_seen buckets" >&2; exit 1; }
fi

build=${1:-build-release}
bin=$build/bin
connections=${CONNECTIONS:-100000}
scenario=${SCENARIO:-hold}
hold_seconds=${HOLD_SECONDS:-60}
heartbeat=${HEARTBEAT:-30}
connect_rate=${CONNECT_RATE:-10000}
room_workers=${ROOM_WORKERS:-$(((connections + 15999) / 16000))}
per_worker=${PER_WORKER:-18000}
registers=${REGISTERS:-$(((connections + 249999) / 250000))}
loadgen_nice=${LOADGEN_NICE:-0}
room_gather_us=${ROOM_GATHER_US:-0}
loadgen_gather_us=${LOADGEN_GATHER_US:-0}
center_workers=${CENTER_WORKERS:-1}
count=${COUNT:-5}
payload=${PAYLOAD:-256}
case $scenario in broadcast) rate=${RATE:-1} ;; upstream) rate=${RATE:-1000} ;; *) rate=${RATE:-10000} ;; esac
use_saver=${SAVER:-0}
use_dispatcher=${DISPATCHER:-0}
storm=${STORM:-0}
storm_after=${STORM_AFTER:-$((hold_seconds / 3))}
out=${OUT:-/tmp/push-hold-report}
case $scenario in hold | reconnect-storm | unicast | broadcast | upstream) ;; *) echo "SCENARIO: hold, reconnect-storm, unicast, broadcast or upstream" >&2; exit 2 ;; esac
traffic=0
case $scenario in unicast | broadcast) traffic=1 ;; esac
for b in push-loadtest push-load push-room push-register $([ "$traffic" = 1 ] && echo push-center) $([ "$scenario" = broadcast ] && echo push-queued push-broadcast-floor) $([ "$scenario" = upstream ] && echo push-coordinator) $([ "$use_saver" = 1 ] && echo push-saver) $([ "$use_dispatcher" = 1 ] && echo push-dispatcher); do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b: build it first (see the header of $0)" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 2; }

tmp=$(mktemp -d /tmp/push-holdbench.XXXXXX)
pids=()
# shellcheck source=loadtest/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
# The servers' logs (register*.log, room.log, center.log) are kept next to the report.
trap 'stop_all; mkdir -p "$out" && cp "$tmp"/*.log "$out"/ 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE
fail() { echo "hold_bench: $*" >&2; exit 1; }
hz=$(getconf CLK_TCK)

# Kernel memory (kB): slab (socket, inode, epoll and file objects) and TCP buffers
# (/proc/net/sockstat "TCP ... mem", pages).
slab_kb() { awk '$1 == "Slab:" {print $2}' /proc/meminfo; }
tcp_buf_kb() { awk -v pk="$(($(getconf PAGESIZE) / 1024))" '$1 == "TCP:" {for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) * pk}' /proc/net/sockstat; }
# "kernel_slab_mb= kernel_tcp_buf_mb= kernel_bytes_per_conn=" since the baseline: both ends of
# every connection are on this machine, so a server alone holds about half of it.
kernel_mem() {
  awk -v s0="$slab0" -v s1="$(slab_kb)" -v b0="$tcpbuf0" -v b1="$(tcp_buf_kb)" -v n="$1" 'BEGIN {
    printf "kernel_slab_mb=%.0f kernel_tcp_buf_mb=%.0f kernel_bytes_per_conn=%.0f", (s1 - s0) / 1024, (b1 - b0) / 1024, (n > 0 ? ((s1 - s0) + (b1 - b0)) * 1024 / n : 0)
  }'
}

# The machine's CPU ticks: user (with nice), system, irq + softirq, steal, idle (with iowait).
cpu_ticks() { awk '$1 == "cpu" {print $2 + $3, $4, $7 + $8, $9, $5 + $6}' /proc/stat; }
# "machine_user_cores= machine_sys_cores= machine_softirq_cores= machine_steal_cores=
# machine_idle_cores=" between two cpu_ticks samples over `seconds`: where the machine's cores
# went (softirq is the loopback's receiving side when it runs outside the sender; steal: the
# hypervisor's).
machine_cpu() {
  awk -v a="$1" -v b="$2" -v d="$3" -v hz="$hz" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    printf "machine_user_cores=%.2f machine_sys_cores=%.2f machine_softirq_cores=%.2f machine_steal_cores=%.2f machine_idle_cores=%.2f", (y[1] - x[1]) / hz / d, (y[2] - x[2]) / hz / d, (y[3] - x[3]) / hz / d, (y[4] - x[4]) / hz / d, (y[5] - x[5]) / hz / d
  }'
}

# RSS (kB) of a process and its children.
rss_kb() { tree_sum "$1" status '/^VmRSS/ {print $2}'; }
# Rooms the registers dropped while alive, summed over the shards.
rooms_lost() {
  local a n=0 v
  for a in "${register_admins[@]}"; do
    v=$({ curl -s "http://$a/metrics" || true; } | awk '$1 == "push_register_rooms_lost_total" {print $2}')
    n=$((n + ${v:-0}))
  done
  echo "$n"
}

# ticks of a process that may not have been started (0 then).
ticks_of() { if [ -n "$1" ]; then ticks "$1"; else echo 0; fi; }

register_ticks() {
  local p n=0
  for p in "${register_pids[@]}"; do n=$((n + $(ticks "$p"))); done
  echo "$n"
}

# Register shards: shard k owns slots [k*1024/R, (k+1)*1024/R).
register_pids=() register_admins=() shard_lines=""
for k in $(seq 0 $((registers - 1))); do
  lo=$((k * 1024 / registers)) hi=$(((k + 1) * 1024 / registers - 1))
  cat >"$tmp/register$k.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
slots: "$lo-$hi"
CONF
  # It prints RPC_ADDRESS, then ADMIN_ADDRESS.
  start "register$k" ADMIN_ADDRESS "$bin/push-register" --config "$tmp/register$k.conf"
  register_pids+=("$pid")
  register_admins+=("$line")
  shard_lines+=" shards { address: \"$(awk '$1 == "RPC_ADDRESS" {print $2}' "$tmp/register$k.out")\" slots: \"$lo-$hi\" }"
done

saver_lines=""
if [ "$use_saver" = 1 ]; then
  start_redis
  cat >"$tmp/saver.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
redis { mode: "single" addresses: "127.0.0.1:$rport" }
CONF
  start saver RPC_ADDRESS "$bin/push-saver" --config "$tmp/saver.conf"
  saver_lines="saver { addresses: \"$line\" }"
fi

queued_line="" queued_pid=""
if [ "$scenario" = broadcast ]; then
  start_queued queued
  queued_line="queued: \"$qtcp\""
fi

app=bench
secret=bench-secret-0123456789abcdef
coordinator_line="" coordinator_pid="" webhook=""
if [ "$scenario" = upstream ]; then
  webhook=127.0.0.1:$(free_port)
  cat >"$tmp/coordinator.conf" <<CONF
rpc { listen { address: "127.0.0.1:0" } }
apps { name: "$app" upstream_url: "http://$webhook/upstream" max_concurrency: 256 max_queued: 100000 }
CONF
  start coordinator RPC_ADDRESS "$bin/push-coordinator" --config "$tmp/coordinator.conf"
  coordinator_pid=$pid
  coordinator_line="coordinator { addresses: \"$line\" }"
fi
cat >"$tmp/room.conf" <<CONF
name: "holdbench"
tcp { address: "127.0.0.1:0" }
rpc { listen { address: "127.0.0.1:0" } }
admin { listen { address: "127.0.0.1:0" } }
register {$shard_lines }
apps { name: "$app" secret: "$secret" }
heartbeat { wifi_s: $heartbeat }
$saver_lines
$queued_line
$coordinator_line
CONF
start room ROOM "$bin/push-room" --config "$tmp/room.conf" --workers "$room_workers" \
  --input-gather-us "$room_gather_us"
room_pid=$pid
for _ in $(seq 1 400); do  # one ROOM line per worker
  [ "$(grep -c '^ROOM' "$tmp/room.out" || true)" -ge "$room_workers" ] && break
  kill -0 "$room_pid" 2>/dev/null || fail "push-room exited: $(cat "$tmp/room.log")"
  sleep 0.05
done
room_tcp=$(awk '$1 == "ROOM" {for (i = 2; i <= NF; i++) if ($i ~ /^tcp=/) {sub("tcp=", "", $i); print $i; exit}}' "$tmp/room.out")
[ -n "$room_tcp" ] || fail "push-room printed no ROOM line"

# Source addresses: one /24 (254 addresses) per 254 * 25000 connections.
nets=$(((connections + 254 * 25000 - 1) / (254 * 25000)))
sources="127.0.100.1-127.0.$((100 + nets - 1)).254"
rooms_lost_before=$(rooms_lost)
slab0=$(slab_kb) tcpbuf0=$(tcp_buf_kb)

if [ "$traffic" = 1 ]; then
  api_key=bench-api-key-0123456789abcdef
  cat >"$tmp/center.conf" <<CONF
http { listen { address: "127.0.0.1:0" } }
register {$shard_lines }
apps { name: "$app" api_keys: "$api_key" push_rate_per_s: 10000000 push_burst: 10000000 broadcast_rate_per_s: 1000000 broadcast_burst: 1000000 }
$saver_lines
$queued_line
CONF
  start center HTTP_ADDRESS "$bin/push-center" --config "$tmp/center.conf" --workers "$center_workers"
  center_pid=$pid
fi
if [ "$scenario" = upstream ]; then
  scenario_args=(upstream --webhook "$webhook" --rate "$rate" --payload-bytes "$payload")
elif [ "$scenario" = broadcast ]; then
  scenario_args=(broadcast --center "$line" --api-key "$api_key" --rate "$rate" --count "$count" --payload-bytes "$payload")
elif [ "$scenario" = unicast ]; then
  scenario_args=(unicast --center "$line" --api-key "$api_key" --rate "$rate")
  if [ "$storm" = 1 ]; then
    victim=$(tr ' ' '\n' <"/proc/$room_pid/task/$room_pid/children" | grep -m1 .) ||
      fail "push-room has no worker processes"
    scenario_args+=(--storm-after "$storm_after" --storm-command "kill -9 $victim")
  fi
elif [ "$scenario" = reconnect-storm ]; then
  victim=$(tr ' ' '\n' <"/proc/$room_pid/task/$room_pid/children" | grep -m1 .) ||
    fail "push-room has no worker processes"
  scenario_args=(reconnect-storm --storm-command "kill -9 $victim")
else
  scenario_args=(hold)
fi
echo "# $scenario: $connections connections, heartbeat ${heartbeat}s, held ${hold_seconds}s; room workers $room_workers; registers $registers; load workers at nice $loadgen_nice; TCP ehash $ehash_seen, $cc_seen, listen queues $(sysctl -n net.core.somaxconn)/$(sysctl -n net.ipv4.tcp_max_syn_backlog)${PUSH_HOLD_NETNS:+ (namespace $PUSH_HOLD_NETNS)}; $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) build=$build"
fifo=$tmp/loadtest.fifo
mkfifo "$fifo"
target=(--server "$room_tcp")
if [ "$use_dispatcher" = 1 ]; then
  # The clients ask push-dispatcher for their room first (a static list of this one room).
  cat >"$tmp/dispatcher.conf" <<CONF
http { listen { address: "127.0.0.1:0" } }
rooms { id: "holdbench" endpoints { key: "tcp" value: "$room_tcp" } }
CONF
  start dispatcher HTTP_ADDRESS "$bin/push-dispatcher" --config "$tmp/dispatcher.conf"
  target=(--dispatcher "$line")
fi
nice -n "$loadgen_nice" "$bin/push-loadtest" "${scenario_args[@]}" "${target[@]}" --app "$app" --secret "$secret" \
  --connections "$connections" --seconds "$hold_seconds" --connect-rate "$connect_rate" \
  --per-worker "$per_worker" --sources "$sources" --out "$out" --input-gather-us "$loadgen_gather_us" \
  --max-seconds $((hold_seconds + connections / connect_rate + 300)) >"$fifo" 2>"$tmp/loadtest.log" &
lt=$!
pids=("$lt" "${pids[@]}")  # stopped first
a_room="" b_room="" a_reg="" b_reg="" t_a="" t_b="" rss="" result="" kmem=""
a_center="" b_center="" center_pid=${center_pid:-} a_coord="" b_coord="" lost_ramp="" lost_end="" a_queued="" b_queued=""
a_machine="" b_machine=""
while IFS= read -r l; do
  echo "$l"
  case $l in
    HOLDING | SENDING | STORM) lost_ramp=$(($(rooms_lost) - ${rooms_lost_before:-0})) ;;&
    HELD | BACK) lost_end=$(($(rooms_lost) - ${rooms_lost_before:-0})) ;;&
    SENT | RECEIVED)
      case $scenario:$l in unicast:SENT | broadcast:RECEIVED | upstream:RECEIVED) lost_end=$(($(rooms_lost) - ${rooms_lost_before:-0})) ;; esac ;;&
    HOLDING)
      a_room=$(ticks "$room_pid"); a_reg=$(register_ticks); t_a=$(date +%s.%N)
      rss=$(rss_kb "$room_pid"); kmem=$(kernel_mem "$connections") ;;
    STORM)
      rss=$(rss_kb "$room_pid"); kmem=$(kernel_mem "$connections") ;;
    HELD)
      b_room=$(ticks "$room_pid"); b_reg=$(register_ticks); t_b=$(date +%s.%N) ;;
    SENDING)
      a_room=$(ticks "$room_pid"); a_reg=$(register_ticks); a_center=$(ticks_of "$center_pid"); t_a=$(date +%s.%N)
      a_machine=$(cpu_ticks)
      if [ -n "$coordinator_pid" ]; then a_coord=$(ticks "$coordinator_pid"); fi
      if [ -n "$queued_pid" ]; then a_queued=$(ticks "$queued_pid"); fi ;;
    SENT | RECEIVED)
      # unicast: the sending window; broadcast: until every copy is in (the fan-out goes on
      # after the publisher is done).
      case $scenario:$l in
        unicast:SENT | broadcast:RECEIVED | upstream:RECEIVED)
          b_room=$(ticks "$room_pid"); b_reg=$(register_ticks); b_center=$(ticks_of "$center_pid"); t_b=$(date +%s.%N)
          b_machine=$(cpu_ticks)
          if [ -n "$coordinator_pid" ]; then b_coord=$(ticks "$coordinator_pid"); fi
          if [ -n "$queued_pid" ]; then b_queued=$(ticks "$queued_pid"); fi ;;
      esac ;;
    RESULT*) result=$l ;;
  esac
done <"$fifo"
rc=0
wait "$lt" || rc=$?
# rooms_lost= up to the scenario's end (all of the run when it never got there), and after it.
lost_all=$(($(rooms_lost) - ${rooms_lost_before:-0}))
lost_end=${lost_end:-$lost_all}
lost_counts="rooms_lost=$lost_end rooms_lost_ramp=${lost_ramp:-} rooms_lost_teardown=$((lost_all - lost_end)) room_gather_us=$room_gather_us loadgen_gather_us=$loadgen_gather_us ehash_entries=$ehash_seen tcp_cc=$cc_seen"
pids=("${pids[@]:1}")
[ -n "$result" ] || fail "push-loadtest printed no RESULT (exit $rc): $(cat "$tmp/loadtest.log")"
f() { field "$1" <<<" $result"; }
if [ "$scenario" = reconnect-storm ]; then
  echo "RESULT storm_bench connections=$connections ready=$(f ready) failed=$(f failed) room_workers=$room_workers registers=$registers dropped=$(f dropped) reconnected=$(f reconnected) reconnect_failed=$(f reconnect_failed) not_back=$(f not_back) back_s=$(f back_s) back_per_s=$(f back_per_s) $lost_counts room_rss_mb=$((${rss:-0} / 1024)) $kmem"
  exit "$rc"
fi
if [ "$scenario" = upstream ]; then
  [ -n "$b_room" ] || fail "push-loadtest never had every upstream answered (exit $rc): $(cat "$tmp/loadtest.log")
$result"
  cpu=$(awk -v ra="$a_room" -v rb="$b_room" -v ca="$a_coord" -v cb="$b_coord" -v t="$t_a" \
    -v u="$t_b" -v hz="$hz" -v m="$(f acked_ok)" 'BEGIN {
      d = u - t; room = (rb - ra) / hz / d; co = (cb - ca) / hz / d
      printf "room_cores=%.3f coordinator_cores=%.3f room_us_per_up=%.2f coordinator_us_per_up=%.2f", room, co, (m > 0 ? (rb - ra) / hz * 1e6 / m : 0), (m > 0 ? (cb - ca) / hz * 1e6 / m : 0)
    }')
  cpu="$cpu $(machine_cpu "$a_machine" "$b_machine" "$(awk -v t="$t_a" -v u="$t_b" 'BEGIN {print u - t}')")"
  echo "RESULT upstream_bench connections=$connections ready=$(f ready) failed=$(f failed) lost=$(f lost) rate=$rate seconds=$hold_seconds sent=$(f sent) acked_ok=$(f acked_ok) ack_errors=$(f ack_errors) unanswered=$(f unanswered) webhook_unique=$(f webhook_unique) duplicates=$(f duplicates) lost_items=$(f lost_items) skipped=$(f skipped) up_per_s=$(f up_per_s) lat_p50_ms=$(f lat_p50_ms) lat_p99_ms=$(f lat_p99_ms) lat_max_ms=$(f lat_max_ms) room_workers=$room_workers $cpu loadgen_cores=$(f workers_cpu_cores) $lost_counts"
  exit "$rc"
fi
if [ "$scenario" = broadcast ]; then
  [ -n "$b_room" ] || fail "push-loadtest never had every copy in (exit $rc): $(cat "$tmp/loadtest.log")
$result"
  cpu=$(awk -v ra="$a_room" -v rb="$b_room" -v qa="$a_queued" -v qb="$b_queued" -v ca="$a_center" \
    -v cb="$b_center" -v t="$t_a" -v u="$t_b" -v hz="$hz" -v m="$(f unique)" 'BEGIN {
      d = u - t; room = (rb - ra) / hz / d; q = (qb - qa) / hz / d; cen = (cb - ca) / hz / d
      printf "room_cores=%.3f queued_cores=%.3f center_cores=%.3f room_us_per_copy=%.2f", room, q, cen, (m > 0 ? (rb - ra) / hz * 1e6 / m : 0)
    }')
  cpu="$cpu register_cores=$(awk -v a="$a_reg" -v b="$b_reg" -v t="$t_a" -v u="$t_b" -v hz="$hz" 'BEGIN {printf "%.3f", (b - a) / hz / (u - t)}') $(machine_cpu "$a_machine" "$b_machine" "$(awk -v t="$t_a" -v u="$t_b" 'BEGIN {print u - t}')")"
  # The floor side by side: push-broadcast-floor (raw epoll, no project code) writes one frame
  # to as many subscribers as one room worker held, one write() each, on one core.
  stop_all
  floor_n=$((connections / room_workers))
  [ "$floor_n" -gt 18000 ] && floor_n=18000
  start floor ADDRESS "$bin/push-broadcast-floor" --connections "$floor_n" --count 1 --payload-bytes "$payload" --max-seconds 120
  floor_pid=$pid
  "$bin/push-load" raw-broadcast --server "$line" --clients "$floor_n" --rounds 1 --connect-rate 20000 \
    --sources 127.0.99.1-127.0.99.4 --max-seconds 120 >"$tmp/floor-receivers.out" 2>"$tmp/floor-receivers.log" ||
    fail "the floor's receivers failed: $(tail -3 "$tmp/floor-receivers.log")"
  wait "$floor_pid" || fail "push-broadcast-floor failed: $(cat "$tmp/floor.log")"
  floor_line=$(grep '^FLOOR' "$tmp/floor.out") || fail "push-broadcast-floor printed no FLOOR line"
  floor=$(awk -v c="$(field cores <<<" $floor_line")" -v s="$(field seconds <<<" $floor_line")" \
    -v d="$(field deliveries <<<" $floor_line")" -v n="$connections" -v cores="$(nproc)" \
    -v room="$(field room_us_per_copy <<<" $cpu")" 'BEGIN {
      us = d > 0 ? c * s * 1e6 / d : 0
      printf "floor_connections=%d floor_ms=%.1f floor_us_per_copy=%.2f floor_ratio=%.2f floor_all_ms=%.0f", d, s * 1000, us, (room > 0 ? us / room : 0), n * us / 1000 / cores
    }')
  echo "RESULT broadcast_bench connections=$connections ready=$(f ready) failed=$(f failed) lost=$(f lost) broadcasts=$(f broadcasts) broadcasts_ok=$(f broadcasts_ok) expected=$(f expected) unique=$(f unique) missing=$(f missing) duplicates=$(f duplicates) deliveries_per_s=$(f deliveries_per_s) lat_p50_ms=$(f lat_p50_ms) lat_p99_ms=$(f lat_p99_ms) last_client_ms=$(f last_client_ms) room_workers=$room_workers registers=$registers $cpu $floor loadgen_cores=$(f workers_cpu_cores) $lost_counts"
  exit "$rc"
fi
if [ "$scenario" = unicast ]; then
  [ -n "$b_room" ] || fail "push-loadtest never sent (exit $rc): $(cat "$tmp/loadtest.log")"
  # CPU per message per service: cores over the sending window, over the unique pushes a second.
  cpu=$(awk -v ra="$a_room" -v rb="$b_room" -v ga="$a_reg" -v gb="$b_reg" -v ca="$a_center" \
    -v cb="$b_center" -v t="$t_a" -v u="$t_b" -v hz="$hz" -v m="$(f unique)" 'BEGIN {
      d = u - t; room = (rb - ra) / hz / d; reg = (gb - ga) / hz / d; cen = (cb - ca) / hz / d
      per = m > 0 ? 1e6 * d / m : 0
      printf "room_cores=%.3f register_cores=%.3f center_cores=%.3f room_us_per_msg=%.2f register_us_per_msg=%.2f center_us_per_msg=%.2f", room, reg, cen, room * per, reg * per, cen * per
    }')
  storm_figures=""
  [ "$storm" = 1 ] && storm_figures=" dropped=$(f dropped) not_back=$(f not_back) back_s=$(f back_s)"
  cpu="$cpu $(machine_cpu "$a_machine" "$b_machine" "$(awk -v t="$t_a" -v u="$t_b" 'BEGIN {print u - t}')")"
  echo "RESULT unicast_bench connections=$connections ready=$(f ready) failed=$(f failed) lost=$(f lost) rate=$rate seconds=$hold_seconds saver=$use_saver$storm_figures kept=$(f kept) target_errors=$(f target_errors) sent=$(f sent) unique=$(f unique) undelivered=$(f undelivered) duplicates=$(f duplicates) misrouted=$(f misrouted) send_errors=$(f send_errors) skipped=$(f skipped) offline=$(f offline_resp) msg_per_s=$(f msg_per_s) lat_p50_ms=$(f lat_p50_ms) lat_p99_ms=$(f lat_p99_ms) lat_max_ms=$(f lat_max_ms) room_workers=$room_workers registers=$registers center_workers=$center_workers $cpu loadgen_cores=$(f workers_cpu_cores) $lost_counts"
  exit "$rc"
fi
[ -n "$b_room" ] || fail "push-loadtest never held every connection (exit $rc)"
awk -v ra="$a_room" -v rb="$b_room" -v ga="$a_reg" -v gb="$b_reg" -v t="$t_a" -v u="$t_b" \
  -v hz="$hz" -v rss="$rss" -v n="$connections" 'BEGIN {
    d = u - t; room = (rb - ra) / hz / d; reg = (gb - ga) / hz / d
    printf "room_cores=%.3f register_cores=%.3f room_rss_mb=%.0f room_bytes_per_conn=%.0f\n", room, reg, rss / 1024, rss * 1024 / n
  }' >"$tmp/cpu"
cpu=$(cat "$tmp/cpu")
# Pings a second during the hold: every connection pings once per heartbeat.
pings_per_s=$(awk -v n="$(f ready)" -v h="$heartbeat" 'BEGIN {printf "%.0f", n / h}')
room_us_per_ping=$(awk -v c="$(field room_cores <<<" $cpu")" -v p="$pings_per_s" 'BEGIN {printf "%.1f", (p > 0 ? c * 1e6 / p : 0)}')
echo "RESULT hold_bench connections=$connections ready=$(f ready) failed=$(f failed) lost=$(f lost) connect_s=$(f connect_s) held_s=$(f held_s) heartbeat_s=$heartbeat room_workers=$room_workers registers=$registers $cpu pings_per_s=$pings_per_s room_us_per_ping=$room_us_per_ping rtt_p99_ms=$(f rtt_p99_ms) $lost_counts loadgen_cores=$(f workers_cpu_cores) $kmem"
