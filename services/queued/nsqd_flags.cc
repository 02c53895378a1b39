#include "services/queued/nsqd_flags.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>

#include "services/queued/go_format.h"

namespace push::queued {
namespace {

using O = QueuedOptions;

constexpr int64_t kUint32Max = std::numeric_limits<uint32_t>::max();

std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Range checks shared by the setters.

Reason atLeast(int64_t v, int64_t min) {
  if (v >= min) return {};
  if (min == 0) return "must not be negative";
  if (min == 1) return "must be positive";
  return "must be at least " + std::to_string(min);
}

Reason inRange(int64_t v, int64_t min, int64_t max) {
  if (v >= min && v <= max) return {};
  return "out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

// A listener address queued can open: <host>:<port> with a numeric port, not a unix socket.
Reason listenAddress(std::string_view v) {
  size_t colon = v.rfind(':');
  if (colon == std::string_view::npos) {
    return "unix socket paths are not supported by queued: want <addr>:<port>";
  }
  std::string_view host = v.substr(0, colon);
  std::string_view port = v.substr(colon + 1);
  if (host.find(':') != std::string_view::npos &&
      !(host.size() >= 2 && host.front() == '[' && host.back() == ']')) {
    return "an IPv6 address needs brackets: want [addr]:<port>";
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(std::string(port)) > 65535) {
    return "want <addr>:<port> with a port number in [0, 65535]";
  }
  return {};
}

}  // namespace

bool isBoolLike(const Flag& f) {
  return f.kind == FlagKind::Bool || f.kind == FlagKind::BoolText;
}
bool isList(const Flag& f) {
  return f.kind == FlagKind::StringList || f.kind == FlagKind::FloatList;
}

std::string cfgKey(const Flag& f) {
  if (!f.cfg_key.empty()) return std::string(f.cfg_key);
  std::string key(f.name);
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

// Sorted by name, as Go prints them. --config, --help and --version are handled by parse().
const std::vector<Flag>& nsqdFlags() {
  static const std::vector<Flag> kFlags = {
      {.name = "auth-http-address",
       .kind = FlagKind::StringList,
       .help = "<addr>:<port> or a full url to query auth server (may be given multiple times)",
       .cfg_key = "auth_http_addresses",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.auth_http_addresses.emplace_back(v);
         return {};
       },
       .clear = [](O& o) { o.auth_http_addresses.clear(); }},
      {.name = "broadcast-address",
       .kind = FlagKind::String,
       .help = "address that will be registered with lookupd (defaults to the OS hostname)",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.broadcast_address = v;
         return {};
       }},
      {.name = "broadcast-http-port",
       .kind = FlagKind::Int,
       .help = "HTTP port that will be registered with lookupd (defaults to the HTTP port that "
               "this nsqd is listening on)",
       .set_int = [](O& o, int64_t v) -> Reason {
         o.broadcast_http_port = static_cast<int>(v);
         return inRange(v, 0, 65535);
       }},
      {.name = "broadcast-tcp-port",
       .kind = FlagKind::Int,
       .help = "TCP port that will be registered with lookupd (defaults to the TCP port that "
               "this nsqd is listening on)",
       .set_int = [](O& o, int64_t v) -> Reason {
         o.broadcast_tcp_port = static_cast<int>(v);
         return inRange(v, 0, 65535);
       }},
      {.name = "data-path",
       .kind = FlagKind::String,
       .help = "path to store disk-backed messages (default: the current directory)",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.queue.data_path = v;
         return {};
       }},
      {.name = "deflate",
       .kind = FlagKind::Bool,
       .help = "enable deflate feature negotiation (client compression)",
       .default_text = "true",
       .set_bool = [](O& o, bool v) { o.deflate = v; }},
      {.name = "e2e-processing-latency-percentile",
       .kind = FlagKind::FloatList,
       .help = "message processing time percentiles (as float (0, 1.0]) to track (can be "
               "specified multiple times or comma separated '1.0,0.99,0.95', default none) "
               "[queued: refused, no latency percentiles]",
       .cfg_key = "e2e_processing_latency_percentiles",
       .set_text = [](O&, std::string_view v) -> Reason {
         std::optional<double> f = parseFloat(v);
         if (!f) return "parse error";
         if (*f <= 0 || *f > 1) {
           char buf[64];
           std::snprintf(buf, sizeof buf, "%g", *f);
           return std::string("invalid E2E processing latency percentile: ") + buf;
         }
         return "queued does not track end-to-end processing latency percentiles";
       },
       .clear = [](O&) {}},
      {.name = "e2e-processing-latency-window-time",
       .kind = FlagKind::Duration,
       .help = "calculate end to end latency quantiles for this duration of time (ie: 60s would "
               "only show quantile calculations from the past 60 seconds) [queued: no effect]",
       .default_text = "10m0s",
       .set_int = [](O&, int64_t v) { return atLeast(v, 0); }},
      {.name = "ephemeral-restore-timeout",
       .kind = FlagKind::Duration,
       .help = "[queued only] a restored ephemeral channel no client subscribes to within this "
               "long after the start is deleted with its messages",
       .default_text = "1m0s",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.ephemeral_restore_timeout_ms = v;
             return atLeast(v, 1);
           }},
      {.name = "http-address",
       .kind = FlagKind::String,
       .help = "address to listen on for HTTP clients (<addr>:<port>; queued has no unix "
               "sockets)",
       .default_text = "\"0.0.0.0:4151\"",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.http_address = v;
         return listenAddress(v);
       }},
      {.name = "http-client-connect-timeout",
       .kind = FlagKind::Duration,
       .help = "timeout for HTTP connect",
       .default_text = "2s",
       .set_int =
           [](O& o, int64_t v) {
             o.http_client_connect_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "http-client-request-timeout",
       .kind = FlagKind::Duration,
       .help = "timeout for HTTP request",
       .default_text = "5s",
       .set_int =
           [](O& o, int64_t v) {
             o.http_client_request_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "https-address",
       .kind = FlagKind::String,
       .help = "<addr>:<port> to listen on for HTTPS clients",
       .default_text = "\"0.0.0.0:4152\"",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.https_address = v;
         return {};
       }},
      {.name = "keep-ephemeral-on-restart",
       .kind = FlagKind::Bool,
       .help = "[queued only] at a clean stop (SIGTERM/SIGINT), write ephemeral channels' "
               "messages to disk and restore them at the next start (false: lost, as nsqd)",
       .default_text = "true",
       .set_bool = [](O& o, bool v) { o.queue.keep_ephemeral_on_restart = v; }},
      {.name = "log-level",
       .kind = FlagKind::String,
       .help = "set log verbosity: debug, info, warn, error, or fatal",
       .default_text = "INFO",
       .set_text = [](O& o, std::string_view v) -> Reason {
         std::string level = toLower(v);
         for (std::string_view known : {"debug", "info", "warn", "error", "fatal"}) {
           if (level == known) {
             o.log_level = level;
             return {};
           }
         }
         return "invalid log level '" + std::string(v) + "' (debug, info, warn, error, fatal)";
       }},
      {.name = "log-prefix",
       .kind = FlagKind::String,
       .help = "log message prefix",
       .default_text = "\"[nsqd] \"",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.log_prefix = v;
         return {};
       }},
      {.name = "lookupd-tcp-address",
       .kind = FlagKind::StringList,
       .help = "lookupd TCP address (may be given multiple times)",
       .cfg_key = "nsqlookupd_tcp_addresses",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.lookupd_tcp_addresses.emplace_back(v);
         return {};
       },
       .clear = [](O& o) { o.lookupd_tcp_addresses.clear(); }},
      {.name = "max-body-size",
       .kind = FlagKind::Int,
       .help = "maximum size of a single command body",
       .default_text = "5242880",
       .set_int =
           [](O& o, int64_t v) {
             o.max_body_size = static_cast<uint32_t>(v);
             return inRange(v, 1, kUint32Max);
           }},
      {.name = "max-bytes-per-file",
       .kind = FlagKind::Int,
       .help = "number of bytes per diskqueue file before rolling",
       .default_text = "104857600",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.max_bytes_per_file = static_cast<uint64_t>(v);
             return atLeast(v, 1);
           }},
      {.name = "max-channel-consumers",
       .kind = FlagKind::Int,
       .help = "maximum channel consumer connection count per nsqd instance (default 0, i.e., "
               "unlimited)",
       .set_int =
           [](O& o, int64_t v) {
             o.max_channel_consumers = v;
             return atLeast(v, 0);
           }},
      {.name = "max-deflate-level",
       .kind = FlagKind::Int,
       .help = "max deflate compression level a client can negotiate (> values == > nsqd CPU "
               "usage)",
       .default_text = "6",
       .set_int = [](O& o, int64_t v) -> Reason {
         if (v < 1 || v > 9) return "--max-deflate-level must be [1,9]";
         o.max_deflate_level = static_cast<int>(v);
         return {};
       }},
      {.name = "max-heartbeat-interval",
       .kind = FlagKind::Duration,
       .help = "maximum client configurable duration of time between client heartbeats",
       .default_text = "1m0s",
       .set_int =
           [](O& o, int64_t v) {
             o.max_heartbeat_interval_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "max-msg-size",
       .kind = FlagKind::Int,
       .help = "maximum size of a single message in bytes",
       .default_text = "1048576",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.max_msg_size = static_cast<uint32_t>(v);
             return inRange(v, 1, kUint32Max);
           }},
      {.name = "max-msg-timeout",
       .kind = FlagKind::Duration,
       .help = "maximum duration before a message will timeout",
       .default_text = "15m0s",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.max_msg_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "max-output-buffer-size",
       .kind = FlagKind::Int,
       .help = "maximum client configurable size (in bytes) for a client output buffer",
       .default_text = "65536",
       .set_int =
           [](O& o, int64_t v) {
             o.max_output_buffer_size = v;
             return atLeast(v, 0);
           }},
      {.name = "max-output-buffer-timeout",
       .kind = FlagKind::Duration,
       .help = "maximum client configurable duration of time between flushing to a client",
       .default_text = "30s",
       .set_int =
           [](O& o, int64_t v) {
             o.max_output_buffer_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "max-rdy-count",
       .kind = FlagKind::Int,
       .help = "maximum RDY count for a client",
       .default_text = "2500",
       .set_int =
           [](O& o, int64_t v) {
             o.max_rdy_count = v;
             return atLeast(v, 0);
           }},
      {.name = "max-req-timeout",
       .kind = FlagKind::Duration,
       .help = "maximum requeuing timeout for a message",
       .default_text = "1h0m0s",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.max_req_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "mem-queue-size",
       .kind = FlagKind::Int,
       .help = "number of messages to keep in memory (per topic/channel)",
       .default_text = "10000",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.mem_queue_size = v;
             return atLeast(v, 0);
           }},
      {.name = "min-output-buffer-timeout",
       .kind = FlagKind::Duration,
       .help = "minimum client configurable duration of time between flushing to a client",
       .default_text = "25ms",
       .set_int =
           [](O& o, int64_t v) {
             o.min_output_buffer_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "msg-timeout",
       .kind = FlagKind::Duration,
       .help = "default duration to wait before auto-requeing a message",
       .default_text = "1m0s",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.msg_timeout_ms = v;
             return atLeast(v, 1);
           }},
      {.name = "node-id",
       .kind = FlagKind::Int,
       .help = "unique part for message IDs, (int) in range [0,1024) (default is hash of "
               "hostname)",
       .cfg_key = "id",
       .set_int = [](O& o, int64_t v) -> Reason {
         if (v < 0 || v >= 1024) return "--node-id must be [0,1024)";
         o.node_id = static_cast<int>(v);
         return {};
       }},
      {.name = "output-buffer-timeout",
       .kind = FlagKind::Duration,
       .help = "default duration of time between flushing data to clients",
       .default_text = "250ms",
       .set_int =
           [](O& o, int64_t v) {
             o.output_buffer_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "queue-scan-selection-count",
       .kind = FlagKind::Int,
       .help = "number of channels to check per cycle (every 100ms) for in-flight and deferred "
               "timeouts [queued: no effect]",
       .default_text = "20",
       .set_int = [](O&, int64_t v) { return atLeast(v, 0); }},
      {.name = "queue-scan-worker-pool-max",
       .kind = FlagKind::Int,
       .help = "max concurrency for checking in-flight and deferred message timeouts [queued: "
               "no effect]",
       .default_text = "4",
       .set_int = [](O&, int64_t v) { return atLeast(v, 0); }},
      {.name = "snappy",
       .kind = FlagKind::Bool,
       .help = "enable snappy feature negotiation (client compression)",
       .default_text = "true",
       .set_bool = [](O& o, bool v) { o.snappy = v; }},
      {.name = "statsd-address",
       .kind = FlagKind::String,
       .help = "UDP <addr>:<port> of a statsd daemon for pushing stats [queued: refused, no "
               "statsd client]",
       .set_text = [](O&, std::string_view v) -> Reason {
         if (v.empty()) return {};
         return "queued has no statsd client (leave --statsd-address empty)";
       }},
      {.name = "statsd-exclude-ephemeral",
       .kind = FlagKind::Bool,
       .help = "Skip ephemeral topics and channels when sending stats to statsd [queued: no "
               "effect]",
       .set_bool = [](O&, bool) {}},
      {.name = "statsd-interval",
       .kind = FlagKind::Duration,
       .help = "duration between pushing to statsd [queued: no effect]",
       .default_text = "1m0s",
       .set_int = [](O&, int64_t v) { return atLeast(v, 0); }},
      {.name = "statsd-mem-stats",
       .kind = FlagKind::Bool,
       .help = "toggle sending memory and GC stats to statsd [queued: no effect]",
       .default_text = "true",
       .set_bool = [](O&, bool) {}},
      {.name = "statsd-prefix",
       .kind = FlagKind::String,
       .help = "prefix used for keys sent to statsd (%s for host replacement) [queued: no "
               "effect]",
       .default_text = "\"nsq.%s\"",
       .set_text = [](O&, std::string_view) -> Reason { return {}; }},
      {.name = "statsd-udp-packet-size",
       .kind = FlagKind::Int,
       .help = "the size in bytes of statsd UDP packets [queued: no effect]",
       .default_text = "508",
       .set_int = [](O&, int64_t v) { return atLeast(v, 0); }},
      {.name = "sync-every",
       .kind = FlagKind::Int,
       .help = "number of messages per diskqueue fsync",
       .default_text = "2500",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.sync_every = static_cast<uint64_t>(v);
             return atLeast(v, 0);
           }},
      {.name = "sync-timeout",
       .kind = FlagKind::Duration,
       .help = "duration of time per diskqueue fsync",
       .default_text = "2s",
       .set_int =
           [](O& o, int64_t v) {
             o.sync_timeout_ms = v;
             return atLeast(v, 1);
           }},
      {.name = "tcp-address",
       .kind = FlagKind::String,
       .help = "address to listen on for TCP clients (<addr>:<port>; queued has no unix "
               "sockets)",
       .default_text = "\"0.0.0.0:4150\"",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.tcp_address = v;
         return listenAddress(v);
       }},
      {.name = "tls-cert",
       .kind = FlagKind::String,
       .help = "path to certificate file",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.tls_cert = v;
         return {};
       }},
      {.name = "tls-client-auth-policy",
       .kind = FlagKind::String,
       .help = "client certificate auth policy ('require' or 'require-verify')",
       .set_text = [](O& o, std::string_view v) -> Reason {
         if (!v.empty() && v != "require" && v != "require-verify") {
           return "want 'require' or 'require-verify'";
         }
         o.tls_client_auth_policy = v;
         return {};
       }},
      {.name = "tls-key",
       .kind = FlagKind::String,
       .help = "path to key file",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.tls_key = v;
         return {};
       }},
      {.name = "tls-min-version",
       .kind = FlagKind::String,
       .help = "minimum SSL/TLS version acceptable ('ssl3.0', 'tls1.0', 'tls1.1', 'tls1.2' or "
               "'tls1.3')",
       .default_text = "tls1.0",
       .set_text = [](O& o, std::string_view v) -> Reason {
         std::string version = toLower(v);
         if (version.empty()) return {};  // as nsqd: keeps the current value
         for (std::string_view known : {"ssl3.0", "tls1.0", "tls1.1", "tls1.2", "tls1.3"}) {
           if (version == known) {
             o.tls_min_version = version;
             return {};
           }
         }
         return "unknown tlsVersionOption \"" + version + "\"";
       }},
      {.name = "tls-required",
       .kind = FlagKind::BoolText,
       .help = "require TLS for client connections (true, false, tcp-https)",
       .set_text = [](O& o, std::string_view v) -> Reason {
         std::string text = toLower(v);
         if (text == "tcp-https") {
           o.tls_required = 1;
           return {};
         }
         std::optional<bool> b = parseGoBool(text);
         if (!b) return "want true, false or tcp-https";
         o.tls_required = *b ? 2 : 0;
         return {};
       }},
      {.name = "tls-root-ca-file",
       .kind = FlagKind::String,
       .help = "path to certificate authority file",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.tls_root_ca_file = v;
         return {};
       }},
      {.name = "verbose",
       .kind = FlagKind::Bool,
       .help = "[deprecated] has no effect, use --log-level",
       .set_bool = [](O&, bool) {}},
      {.name = "worker-id",
       .kind = FlagKind::Bool,
       .help = "[deprecated] use --node-id",
       .set_bool = [](O&, bool) {}},
  };
  return kFlags;
}

const Flag* findFlag(std::string_view name) {
  for (const Flag& f : nsqdFlags()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const Flag* findCfgKey(std::string_view key) {
  for (const Flag& f : nsqdFlags()) {
    if (cfgKey(f) == key) return &f;
  }
  return nullptr;
}

// Sets a flag from command-line text: the Go flag package's rules for each kind. Returns the
// reason it was refused, or empty.
Reason applyText(O& o, const Flag& f, std::string_view value) {
  Reason reason;
  switch (f.kind) {
    case FlagKind::String:
    case FlagKind::BoolText:
    case FlagKind::StringList:
      return f.set_text(o, value);
    case FlagKind::FloatList: {
      size_t start = 0;
      while (true) {
        size_t comma = value.find(',', start);
        std::string_view item = value.substr(start, comma - start);
        reason = f.set_text(o, item);
        if (!reason.empty()) return reason;
        if (comma == std::string_view::npos) return {};
        start = comma + 1;
      }
    }
    case FlagKind::Int: {
      std::optional<int64_t> v = parseGoInt(value, &reason);
      if (!v) return reason;
      return f.set_int(o, *v);
    }
    case FlagKind::Duration: {
      std::optional<int64_t> ns = parseGoDuration(value, &reason);
      if (!ns) return reason;
      return f.set_int(o, *ns / 1000000);
    }
    case FlagKind::Bool: {
      std::optional<bool> b = parseGoBool(value);
      if (!b) return "parse error";
      f.set_bool(o, *b);
      return {};
    }
  }
  return "unknown flag kind";
}

}  // namespace push::queued
