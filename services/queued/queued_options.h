#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/queue/queue_options.h"

namespace push::queued {

// queued's configuration: nsqd v1.3.0's flags, with nsqd's names, defaults and meanings, so a
// deployment swaps the binary and keeps its command line. Durations are kept in milliseconds
// (a sub-millisecond part of a flag's value is dropped).
//
// parse() accepts every nsqd v1.3.0 flag. Accepted with no effect: --verbose, --worker-id
// (deprecated in nsqd too), --log-prefix (kept in log_prefix), --queue-scan-worker-pool-max,
// --queue-scan-selection-count (queued has no scan loop), --statsd-prefix, --statsd-interval,
// --statsd-mem-stats, --statsd-udp-packet-size, --statsd-exclude-ephemeral (matter only with
// --statsd-address) and --e2e-processing-latency-window-time (only with percentiles).
// REFUSED, because queued cannot do what they ask (each error names the flag and says why):
//   --statsd-address non-empty             no statsd client
//   --e2e-processing-latency-percentile    no end-to-end latency percentiles (a value outside
//                                          (0,1] gets nsqd's own error first)
//   --tcp-address / --http-address         a unix socket path: <addr>:<port> only
// Checks nsqd makes, with nsqd's texts: --node-id in [0,1024), --max-deflate-level in [1,9],
// --tls-required or --tls-client-auth-policy without --tls-cert and --tls-key, --log-level and
// --tls-min-version names. Checks nsqd lacks: sizes, counts and durations never negative;
// --max-msg-size and --max-body-size in [1, 2^32), --max-bytes-per-file, --msg-timeout and
// --sync-timeout above 0, broadcast ports in [0,65535], --tls-cert and --tls-key together,
// --tls-client-auth-policy one of the two names.
//
// queued's own flags (not nsqd's): --keep-ephemeral-on-restart (bool, default true) and
// --ephemeral-restore-timeout (duration > 0, default 1m0s), QueueOptions and README.md
// "Ephemeral channels across a restart".
//
// --config FILE reads nsqd's TOML file (keys are the flag names with '_'; nsqd's own names
// `id`, `nsqlookupd_tcp_addresses`, `auth_http_addresses`,
// `e2e_processing_latency_percentiles`): `key = value` lines with strings, integers, floats,
// booleans and (multi-line) arrays, and # comments; no tables. A duration may be a Go duration
// string or an integer count of milliseconds (as nsqd's option resolver). An unknown key is an
// error. Flags on the command line override the file; a list flag given on the command line
// replaces the file's list.
struct QueuedOptions {
  std::string tcp_address = "0.0.0.0:4150";
  std::string http_address = "0.0.0.0:4151";
  // The HTTP API over TLS (the same routes as http_address), served as nsqd only with
  // --tls-cert and --tls-key and when not empty; ignored without them.
  std::string https_address = "0.0.0.0:4152";
  std::string broadcast_address;  // default: the host name
  int broadcast_tcp_port = 0;     // 0: the real port
  int broadcast_http_port = 0;
  std::vector<std::string> lookupd_tcp_addresses;
  std::vector<std::string> auth_http_addresses;
  int64_t http_client_connect_timeout_ms = 2000;
  int64_t http_client_request_timeout_ms = 5000;
  int node_id = 0;  // default: crc32(md5(hostname)) % 1024 as nsqd; only reported

  queue::QueueOptions queue;  // data path, memory queue, disk files, message limits, timeouts
  int64_t sync_timeout_ms = 2000;
  uint32_t max_body_size = 5242880;
  int64_t max_heartbeat_interval_ms = 60000;
  int64_t max_rdy_count = 2500;
  int64_t max_output_buffer_size = 65536;
  int64_t max_output_buffer_timeout_ms = 30000;
  int64_t min_output_buffer_timeout_ms = 25;
  int64_t output_buffer_timeout_ms = 250;
  int64_t max_channel_consumers = 0;  // 0: unlimited

  bool deflate = true;
  bool snappy = true;
  int max_deflate_level = 6;

  std::string tls_cert;
  std::string tls_key;
  std::string tls_root_ca_file;
  std::string tls_client_auth_policy;  // "", "require", "require-verify"
  // nsqd's numbers (reported by /config): 0 not required ("false"), 1 required on TCP but not
  // on HTTP ("tcp-https"), 2 required ("true": the plain HTTP port answers every request 403
  // TLS_REQUIRED, only HTTPS serves). A client-auth policy with 0 becomes 2, as nsqd.
  int tls_required = 0;
  std::string tls_min_version = "tls1.0";  // ssl3.0, tls1.0, tls1.1, tls1.2 or tls1.3

  std::string log_level = "info";  // debug, info, warn, error or fatal (lower case)
  std::string log_prefix = "[nsqd] ";

  // Parses nsqd's command line: -flag=value, --flag=value, -flag value, boolean -flag and
  // -flag=true|false; list flags repeat; `--` ends the flags; a positional argument is an
  // error. Durations in Go syntax (250ms, 1h30m, 1.5s). INVALID_ARGUMENT names the flag (and the
  // file and line for --config) and says what is wrong; CANCELLED after --help or --version
  // printed their text to stdout.
  static Result<QueuedOptions> parse(int argc, char** argv);

  // nsqd's default --node-id for a host name: crc32(md5(hostname)) % 1024.
  static int defaultNodeId(std::string_view hostname);
};

}  // namespace push::queued
