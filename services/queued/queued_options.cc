#include "services/queued/queued_options.h"

#include <openssl/evp.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace push::queued {
namespace {

using O = QueuedOptions;
// Why a value was not taken; empty when it was.
using Reason = std::string;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kUint32Max = std::numeric_limits<uint32_t>::max();
constexpr std::string_view kVersionText = "queued v0.1 (nsqd v1.3.0 compatible)\n";

// ---------------------------------------------------------------------------------------------
// Go's value syntax: strconv.ParseInt(s, 0, 64), strconv.ParseBool, time.ParseDuration.

bool isDigitIn(char c, int base) {
  int d;
  if (c >= '0' && c <= '9') {
    d = c - '0';
  } else if (c >= 'a' && c <= 'z') {
    d = c - 'a' + 10;
  } else if (c >= 'A' && c <= 'Z') {
    d = c - 'A' + 10;
  } else {
    return false;
  }
  return d < base;
}

int digitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Go's integer literal with base prefixes (0x, 0o, 0b, leading 0 = octal) and '_' between digits.
std::optional<int64_t> parseGoInt(std::string_view s, Reason* reason) {
  *reason = "parse error";
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  int base = 10;
  bool any_digit = false;
  bool underscore_ok = false;  // '_' may follow a digit or a base prefix
  if (s.size() >= 2 && s[0] == '0') {
    char p = static_cast<char>(s[1] | 0x20);
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      s.remove_prefix(2);
    } else {
      base = 8;  // "0755"; the leading 0 is a digit too
      s.remove_prefix(1);
      any_digit = true;
    }
    underscore_ok = true;
  }
  const unsigned __int128 limit = static_cast<unsigned __int128>(kInt64Max) + (negative ? 1 : 0);
  unsigned __int128 value = 0;
  bool overflow = false;
  bool last_underscore = false;
  for (char c : s) {
    if (c == '_') {
      if (!underscore_ok) return std::nullopt;
      underscore_ok = false;
      last_underscore = true;
      continue;
    }
    if (!isDigitIn(c, base)) return std::nullopt;
    if (!overflow) {
      value = value * base + digitValue(c);
      overflow = value > limit;
    }
    any_digit = true;
    last_underscore = false;
    underscore_ok = true;
  }
  if (!any_digit || last_underscore) return std::nullopt;
  if (overflow) {
    *reason = "value out of range";
    return std::nullopt;
  }
  reason->clear();
  if (negative) return static_cast<int64_t>(-static_cast<__int128>(value));
  return static_cast<int64_t>(value);
}

std::optional<bool> parseGoBool(std::string_view s) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (s == t) return true;
  }
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (s == f) return false;
  }
  return std::nullopt;
}

// Go's time.ParseDuration, in nanoseconds.
std::optional<int64_t> parseGoDuration(std::string_view original, Reason* reason) {
  std::string quoted = "\"" + std::string(original) + "\"";
  *reason = "time: invalid duration " + quoted;
  std::string_view s = original;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    reason->clear();
    return 0;
  }
  if (s.empty()) return std::nullopt;
  unsigned __int128 total = 0;
  const unsigned __int128 limit = static_cast<unsigned __int128>(kInt64Max) + (negative ? 1 : 0);
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return std::nullopt;
    unsigned __int128 whole = 0;
    size_t i = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      whole = whole * 10 + (s[i] - '0');
      if (whole > limit) return std::nullopt;
      ++i;
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    long double fraction = 0;
    long double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      i = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (scale < 1e18L) {
          fraction = fraction * 10 + (s[i] - '0');
          scale *= 10;
        }
        ++i;
      }
      post = i > 0;
      s.remove_prefix(i);
    }
    if (!pre && !post) return std::nullopt;
    i = 0;
    while (i < s.size() && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9'))
      ++i;
    std::string_view unit_name = s.substr(0, i);
    s.remove_prefix(i);
    if (unit_name.empty()) {
      *reason = "time: missing unit in duration " + quoted;
      return std::nullopt;
    }
    int64_t unit;
    if (unit_name == "ns") {
      unit = 1;
    } else if (unit_name == "us" || unit_name == "\xC2\xB5s" || unit_name == "\xCE\xBCs") {
      unit = 1000;
    } else if (unit_name == "ms") {
      unit = 1000000;
    } else if (unit_name == "s") {
      unit = 1000000000;
    } else if (unit_name == "m") {
      unit = 60 * int64_t{1000000000};
    } else if (unit_name == "h") {
      unit = 3600 * int64_t{1000000000};
    } else {
      *reason = "time: unknown unit \"" + std::string(unit_name) + "\" in duration " + quoted;
      return std::nullopt;
    }
    unsigned __int128 v = whole * unit;
    if (v > limit) return std::nullopt;
    v += static_cast<unsigned __int128>(fraction * (static_cast<long double>(unit) / scale));
    total += v;
    if (total > limit) return std::nullopt;
  }
  reason->clear();
  if (negative) return static_cast<int64_t>(-static_cast<__int128>(total));
  return static_cast<int64_t>(total);
}

std::optional<double> parseFloat(std::string_view s) {
  std::string text(s);
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || std::isnan(v)) return std::nullopt;
  return v;
}

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

// ---------------------------------------------------------------------------------------------
// The flag table.

enum class Kind {
  String,      // any text
  Int,         // Go integer
  Bool,        // bare or =true|false
  Duration,    // Go duration, passed to the setter in milliseconds
  StringList,  // repeats; one element per occurrence
  FloatList,   // repeats; comma-separated floats per occurrence
  BoolText,    // bare means "true", else text (--tls-required)
};

struct Flag {
  std::string_view name;
  Kind kind;
  std::string_view help;
  std::string_view default_text;                       // shown by --help; empty: none shown
  std::string_view cfg_key;                            // TOML key; empty: the name with '_'
  Reason (*set_text)(O&, std::string_view) = nullptr;  // String, BoolText, list elements
  Reason (*set_int)(O&, int64_t) = nullptr;            // Int, Duration (milliseconds)
  void (*set_bool)(O&, bool) = nullptr;                // Bool
  void (*clear)(O&) = nullptr;                         // lists
};

bool isBoolLike(const Flag& f) {
  return f.kind == Kind::Bool || f.kind == Kind::BoolText;
}
bool isList(const Flag& f) {
  return f.kind == Kind::StringList || f.kind == Kind::FloatList;
}

std::string cfgKey(const Flag& f) {
  if (!f.cfg_key.empty()) return std::string(f.cfg_key);
  std::string key(f.name);
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

// Sorted by name, as Go prints them. --config, --help and --version are handled by parse().
const std::vector<Flag>& flags() {
  static const std::vector<Flag> kFlags = {
      {.name = "auth-http-address",
       .kind = Kind::StringList,
       .help = "<addr>:<port> or a full url to query auth server (may be given multiple times)",
       .cfg_key = "auth_http_addresses",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.auth_http_addresses.emplace_back(v);
         return {};
       },
       .clear = [](O& o) { o.auth_http_addresses.clear(); }},
      {.name = "broadcast-address",
       .kind = Kind::String,
       .help = "address that will be registered with lookupd (defaults to the OS hostname)",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.broadcast_address = v;
         return {};
       }},
      {.name = "broadcast-http-port",
       .kind = Kind::Int,
       .help = "HTTP port that will be registered with lookupd (defaults to the HTTP port that "
               "this nsqd is listening on)",
       .set_int = [](O& o, int64_t v) -> Reason {
         o.broadcast_http_port = static_cast<int>(v);
         return inRange(v, 0, 65535);
       }},
      {.name = "broadcast-tcp-port",
       .kind = Kind::Int,
       .help = "TCP port that will be registered with lookupd (defaults to the TCP port that "
               "this nsqd is listening on)",
       .set_int = [](O& o, int64_t v) -> Reason {
         o.broadcast_tcp_port = static_cast<int>(v);
         return inRange(v, 0, 65535);
       }},
      {.name = "data-path",
       .kind = Kind::String,
       .help = "path to store disk-backed messages (default: the current directory)",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.queue.data_path = v;
         return {};
       }},
      {.name = "deflate",
       .kind = Kind::Bool,
       .help = "enable deflate feature negotiation (client compression)",
       .default_text = "true",
       .set_bool = [](O& o, bool v) { o.deflate = v; }},
      {.name = "e2e-processing-latency-percentile",
       .kind = Kind::FloatList,
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
       .kind = Kind::Duration,
       .help = "calculate end to end latency quantiles for this duration of time (ie: 60s would "
               "only show quantile calculations from the past 60 seconds) [queued: no effect]",
       .default_text = "10m0s",
       .set_int = [](O&, int64_t v) { return atLeast(v, 0); }},
      {.name = "http-address",
       .kind = Kind::String,
       .help = "address to listen on for HTTP clients (<addr>:<port>; queued has no unix "
               "sockets)",
       .default_text = "\"0.0.0.0:4151\"",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.http_address = v;
         return listenAddress(v);
       }},
      {.name = "http-client-connect-timeout",
       .kind = Kind::Duration,
       .help = "timeout for HTTP connect",
       .default_text = "2s",
       .set_int =
           [](O& o, int64_t v) {
             o.http_client_connect_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "http-client-request-timeout",
       .kind = Kind::Duration,
       .help = "timeout for HTTP request",
       .default_text = "5s",
       .set_int =
           [](O& o, int64_t v) {
             o.http_client_request_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "https-address",
       .kind = Kind::String,
       .help = "<addr>:<port> to listen on for HTTPS clients [queued: no HTTPS listener yet; "
               "refused with --tls-cert/--tls-key unless empty]",
       .default_text = "\"0.0.0.0:4152\"",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.https_address = v;
         return {};
       }},
      {.name = "log-level",
       .kind = Kind::String,
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
       .kind = Kind::String,
       .help = "log message prefix",
       .default_text = "\"[nsqd] \"",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.log_prefix = v;
         return {};
       }},
      {.name = "lookupd-tcp-address",
       .kind = Kind::StringList,
       .help = "lookupd TCP address (may be given multiple times)",
       .cfg_key = "nsqlookupd_tcp_addresses",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.lookupd_tcp_addresses.emplace_back(v);
         return {};
       },
       .clear = [](O& o) { o.lookupd_tcp_addresses.clear(); }},
      {.name = "max-body-size",
       .kind = Kind::Int,
       .help = "maximum size of a single command body",
       .default_text = "5242880",
       .set_int =
           [](O& o, int64_t v) {
             o.max_body_size = static_cast<uint32_t>(v);
             return inRange(v, 1, kUint32Max);
           }},
      {.name = "max-bytes-per-file",
       .kind = Kind::Int,
       .help = "number of bytes per diskqueue file before rolling",
       .default_text = "104857600",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.max_bytes_per_file = static_cast<uint64_t>(v);
             return atLeast(v, 1);
           }},
      {.name = "max-channel-consumers",
       .kind = Kind::Int,
       .help = "maximum channel consumer connection count per nsqd instance (default 0, i.e., "
               "unlimited)",
       .set_int =
           [](O& o, int64_t v) {
             o.max_channel_consumers = v;
             return atLeast(v, 0);
           }},
      {.name = "max-deflate-level",
       .kind = Kind::Int,
       .help = "max deflate compression level a client can negotiate (> values == > nsqd CPU "
               "usage)",
       .default_text = "6",
       .set_int = [](O& o, int64_t v) -> Reason {
         if (v < 1 || v > 9) return "--max-deflate-level must be [1,9]";
         o.max_deflate_level = static_cast<int>(v);
         return {};
       }},
      {.name = "max-heartbeat-interval",
       .kind = Kind::Duration,
       .help = "maximum client configurable duration of time between client heartbeats",
       .default_text = "1m0s",
       .set_int =
           [](O& o, int64_t v) {
             o.max_heartbeat_interval_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "max-msg-size",
       .kind = Kind::Int,
       .help = "maximum size of a single message in bytes",
       .default_text = "1048576",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.max_msg_size = static_cast<uint32_t>(v);
             return inRange(v, 1, kUint32Max);
           }},
      {.name = "max-msg-timeout",
       .kind = Kind::Duration,
       .help = "maximum duration before a message will timeout",
       .default_text = "15m0s",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.max_msg_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "max-output-buffer-size",
       .kind = Kind::Int,
       .help = "maximum client configurable size (in bytes) for a client output buffer",
       .default_text = "65536",
       .set_int =
           [](O& o, int64_t v) {
             o.max_output_buffer_size = v;
             return atLeast(v, 0);
           }},
      {.name = "max-output-buffer-timeout",
       .kind = Kind::Duration,
       .help = "maximum client configurable duration of time between flushing to a client",
       .default_text = "30s",
       .set_int =
           [](O& o, int64_t v) {
             o.max_output_buffer_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "max-rdy-count",
       .kind = Kind::Int,
       .help = "maximum RDY count for a client",
       .default_text = "2500",
       .set_int =
           [](O& o, int64_t v) {
             o.max_rdy_count = v;
             return atLeast(v, 0);
           }},
      {.name = "max-req-timeout",
       .kind = Kind::Duration,
       .help = "maximum requeuing timeout for a message",
       .default_text = "1h0m0s",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.max_req_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "mem-queue-size",
       .kind = Kind::Int,
       .help = "number of messages to keep in memory (per topic/channel)",
       .default_text = "10000",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.mem_queue_size = v;
             return atLeast(v, 0);
           }},
      {.name = "min-output-buffer-timeout",
       .kind = Kind::Duration,
       .help = "minimum client configurable duration of time between flushing to a client",
       .default_text = "25ms",
       .set_int =
           [](O& o, int64_t v) {
             o.min_output_buffer_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "msg-timeout",
       .kind = Kind::Duration,
       .help = "default duration to wait before auto-requeing a message",
       .default_text = "1m0s",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.msg_timeout_ms = v;
             return atLeast(v, 1);
           }},
      {.name = "node-id",
       .kind = Kind::Int,
       .help = "unique part for message IDs, (int) in range [0,1024) (default is hash of "
               "hostname)",
       .cfg_key = "id",
       .set_int = [](O& o, int64_t v) -> Reason {
         if (v < 0 || v >= 1024) return "--node-id must be [0,1024)";
         o.node_id = static_cast<int>(v);
         return {};
       }},
      {.name = "output-buffer-timeout",
       .kind = Kind::Duration,
       .help = "default duration of time between flushing data to clients",
       .default_text = "250ms",
       .set_int =
           [](O& o, int64_t v) {
             o.output_buffer_timeout_ms = v;
             return atLeast(v, 0);
           }},
      {.name = "queue-scan-selection-count",
       .kind = Kind::Int,
       .help = "number of channels to check per cycle (every 100ms) for in-flight and deferred "
               "timeouts [queued: no effect]",
       .default_text = "20",
       .set_int = [](O&, int64_t v) { return atLeast(v, 0); }},
      {.name = "queue-scan-worker-pool-max",
       .kind = Kind::Int,
       .help = "max concurrency for checking in-flight and deferred message timeouts [queued: "
               "no effect]",
       .default_text = "4",
       .set_int = [](O&, int64_t v) { return atLeast(v, 0); }},
      {.name = "snappy",
       .kind = Kind::Bool,
       .help = "enable snappy feature negotiation (client compression)",
       .default_text = "true",
       .set_bool = [](O& o, bool v) { o.snappy = v; }},
      {.name = "statsd-address",
       .kind = Kind::String,
       .help = "UDP <addr>:<port> of a statsd daemon for pushing stats [queued: refused, no "
               "statsd client]",
       .set_text = [](O&, std::string_view v) -> Reason {
         if (v.empty()) return {};
         return "queued has no statsd client (leave --statsd-address empty)";
       }},
      {.name = "statsd-exclude-ephemeral",
       .kind = Kind::Bool,
       .help = "Skip ephemeral topics and channels when sending stats to statsd [queued: no "
               "effect]",
       .set_bool = [](O&, bool) {}},
      {.name = "statsd-interval",
       .kind = Kind::Duration,
       .help = "duration between pushing to statsd [queued: no effect]",
       .default_text = "1m0s",
       .set_int = [](O&, int64_t v) { return atLeast(v, 0); }},
      {.name = "statsd-mem-stats",
       .kind = Kind::Bool,
       .help = "toggle sending memory and GC stats to statsd [queued: no effect]",
       .default_text = "true",
       .set_bool = [](O&, bool) {}},
      {.name = "statsd-prefix",
       .kind = Kind::String,
       .help = "prefix used for keys sent to statsd (%s for host replacement) [queued: no "
               "effect]",
       .default_text = "\"nsq.%s\"",
       .set_text = [](O&, std::string_view) -> Reason { return {}; }},
      {.name = "statsd-udp-packet-size",
       .kind = Kind::Int,
       .help = "the size in bytes of statsd UDP packets [queued: no effect]",
       .default_text = "508",
       .set_int = [](O&, int64_t v) { return atLeast(v, 0); }},
      {.name = "sync-every",
       .kind = Kind::Int,
       .help = "number of messages per diskqueue fsync",
       .default_text = "2500",
       .set_int =
           [](O& o, int64_t v) {
             o.queue.sync_every = static_cast<uint64_t>(v);
             return atLeast(v, 0);
           }},
      {.name = "sync-timeout",
       .kind = Kind::Duration,
       .help = "duration of time per diskqueue fsync",
       .default_text = "2s",
       .set_int =
           [](O& o, int64_t v) {
             o.sync_timeout_ms = v;
             return atLeast(v, 1);
           }},
      {.name = "tcp-address",
       .kind = Kind::String,
       .help = "address to listen on for TCP clients (<addr>:<port>; queued has no unix "
               "sockets)",
       .default_text = "\"0.0.0.0:4150\"",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.tcp_address = v;
         return listenAddress(v);
       }},
      {.name = "tls-cert",
       .kind = Kind::String,
       .help = "path to certificate file",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.tls_cert = v;
         return {};
       }},
      {.name = "tls-client-auth-policy",
       .kind = Kind::String,
       .help = "client certificate auth policy ('require' or 'require-verify')",
       .set_text = [](O& o, std::string_view v) -> Reason {
         if (!v.empty() && v != "require" && v != "require-verify") {
           return "want 'require' or 'require-verify'";
         }
         o.tls_client_auth_policy = v;
         return {};
       }},
      {.name = "tls-key",
       .kind = Kind::String,
       .help = "path to key file",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.tls_key = v;
         return {};
       }},
      {.name = "tls-min-version",
       .kind = Kind::String,
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
       .kind = Kind::BoolText,
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
       .kind = Kind::String,
       .help = "path to certificate authority file",
       .set_text = [](O& o, std::string_view v) -> Reason {
         o.tls_root_ca_file = v;
         return {};
       }},
      {.name = "verbose",
       .kind = Kind::Bool,
       .help = "[deprecated] has no effect, use --log-level",
       .set_bool = [](O&, bool) {}},
      {.name = "worker-id",
       .kind = Kind::Bool,
       .help = "[deprecated] use --node-id",
       .set_bool = [](O&, bool) {}},
  };
  return kFlags;
}

const Flag* findFlag(std::string_view name) {
  for (const Flag& f : flags()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const Flag* findCfgKey(std::string_view key) {
  for (const Flag& f : flags()) {
    if (cfgKey(f) == key) return &f;
  }
  return nullptr;
}

// Sets a flag from command-line text: the Go flag package's rules for each kind. Returns the
// reason it was refused, or empty.
Reason applyText(O& o, const Flag& f, std::string_view value) {
  Reason reason;
  switch (f.kind) {
    case Kind::String:
    case Kind::BoolText:
    case Kind::StringList:
      return f.set_text(o, value);
    case Kind::FloatList: {
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
    case Kind::Int: {
      std::optional<int64_t> v = parseGoInt(value, &reason);
      if (!v) return reason;
      return f.set_int(o, *v);
    }
    case Kind::Duration: {
      std::optional<int64_t> ns = parseGoDuration(value, &reason);
      if (!ns) return reason;
      return f.set_int(o, *ns / 1000000);
    }
    case Kind::Bool: {
      std::optional<bool> b = parseGoBool(value);
      if (!b) return "parse error";
      f.set_bool(o, *b);
      return {};
    }
  }
  return "unknown flag kind";
}

std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

// ---------------------------------------------------------------------------------------------
// The TOML subset nsqd's config files use.

struct TomlValue {
  enum class Type { String, Integer, Float, Bool, Array } type = Type::String;
  std::string text;  // String: the value; others: the source text, for messages
  int64_t integer = 0;
  double number = 0;
  bool boolean = false;
  std::vector<TomlValue> items;
};

class TomlReader {
 public:
  explicit TomlReader(std::string text) : text_(std::move(text)) {}

  int line() const { return line_; }
  const std::string& error() const { return error_; }

  // Reads the next `key = value`. False at the end of the file or on error (error() set).
  bool next(std::string* key, TomlValue* value, int* key_line) {
    skipBlankAndComments(true);
    if (atEnd()) return false;
    *key_line = line_;
    if (peek() == '[') return fail("tables ([section]) are not supported");
    if (!readKey(key)) return false;
    skipSpaces();
    if (atEnd() || peek() != '=') return fail("expected '=' after key \"" + *key + "\"");
    ++pos_;
    skipSpaces();
    if (!readValue(value)) return false;
    skipSpaces();
    if (!atEnd() && peek() == '#') skipToLineEnd();
    if (!atEnd() && peek() == '\r') ++pos_;
    if (!atEnd() && peek() != '\n') return fail("unexpected text after the value of " + *key);
    return true;
  }

 private:
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  void skipSpaces() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t'))
      ++pos_;
  }
  void skipToLineEnd() {
    while (!atEnd() && peek() != '\n')
      ++pos_;
  }
  // Spaces, comments and (when `newlines`) line ends.
  void skipBlankAndComments(bool newlines) {
    while (!atEnd()) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        skipToLineEnd();
      } else if (c == '\n' && newlines) {
        ++pos_;
        ++line_;
      } else {
        break;
      }
    }
  }

  bool readKey(std::string* key) {
    key->clear();
    if (peek() == '"' || peek() == '\'') {
      TomlValue v;
      if (!readString(&v)) return false;
      *key = v.text;
    } else {
      while (!atEnd() &&
             (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_' || peek() == '-')) {
        key->push_back(text_[pos_++]);
      }
      if (key->empty()) return fail("expected a key");
    }
    skipSpaces();
    if (!atEnd() && peek() == '.') return fail("dotted keys are not supported");
    return true;
  }

  static void appendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool readString(TomlValue* v) {
    v->type = TomlValue::Type::String;
    v->text.clear();
    char q = text_[pos_++];
    if (text_.compare(pos_, 2, std::string(2, q)) == 0) {
      return fail("multi-line strings are not supported");
    }
    while (true) {
      if (atEnd() || peek() == '\n') return fail("unterminated string");
      char c = text_[pos_++];
      if (c == q) return true;
      if (c != '\\' || q == '\'') {
        v->text.push_back(c);
        continue;
      }
      if (atEnd()) return fail("unterminated string");
      char e = text_[pos_++];
      switch (e) {
        case 'b':
          v->text.push_back('\b');
          break;
        case 't':
          v->text.push_back('\t');
          break;
        case 'n':
          v->text.push_back('\n');
          break;
        case 'f':
          v->text.push_back('\f');
          break;
        case 'r':
          v->text.push_back('\r');
          break;
        case '"':
          v->text.push_back('"');
          break;
        case '\\':
          v->text.push_back('\\');
          break;
        case 'u':
        case 'U': {
          size_t n = e == 'u' ? 4 : 8;
          if (pos_ + n > text_.size()) return fail("bad \\" + std::string(1, e) + " escape");
          uint32_t cp = 0;
          for (size_t i = 0; i < n; ++i) {
            char h = text_[pos_ + i];
            if (!isDigitIn(h, 16)) return fail("bad \\" + std::string(1, e) + " escape");
            cp = cp * 16 + static_cast<uint32_t>(digitValue(h));
          }
          pos_ += n;
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return fail("bad code point");
          appendUtf8(&v->text, cp);
          break;
        }
        default:
          return fail("unknown escape \\" + std::string(1, e));
      }
    }
  }

  bool readValue(TomlValue* v) {
    if (atEnd() || peek() == '\n') return fail("missing value");
    char c = peek();
    if (c == '"' || c == '\'') return readString(v);
    if (c == '{') return fail("inline tables are not supported");
    if (c == '[') {
      ++pos_;
      v->type = TomlValue::Type::Array;
      v->items.clear();
      while (true) {
        skipBlankAndComments(true);
        if (atEnd()) return fail("unterminated array");
        if (peek() == ']') {
          ++pos_;
          break;
        }
        TomlValue item;
        if (!readValue(&item)) return false;
        if (item.type == TomlValue::Type::Array) return fail("nested arrays are not supported");
        v->items.push_back(std::move(item));
        skipBlankAndComments(true);
        if (atEnd()) return fail("unterminated array");
        if (peek() == ',') {
          ++pos_;
        } else if (peek() != ']') {
          return fail("expected ',' or ']' in array");
        }
      }
      v->text = "[...]";
      return true;
    }
    // A bare word: a boolean or a number, up to a delimiter.
    size_t start = pos_;
    while (!atEnd() && peek() != ',' && peek() != ']' && peek() != '#' && peek() != '\n' &&
           peek() != ' ' && peek() != '\t' && peek() != '\r') {
      ++pos_;
    }
    v->text = text_.substr(start, pos_ - start);
    if (v->text == "true" || v->text == "false") {
      v->type = TomlValue::Type::Bool;
      v->boolean = v->text == "true";
      return true;
    }
    Reason reason;
    std::optional<int64_t> i;
    bool leading_zero = v->text.size() > 1 && v->text[0] == '0' &&
                        std::isdigit(static_cast<unsigned char>(v->text[1]));
    if (!leading_zero) i = parseGoInt(v->text, &reason);
    if (i) {
      v->type = TomlValue::Type::Integer;
      v->integer = *i;
      return true;
    }
    std::string digits = v->text;
    digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
    std::optional<double> f = parseFloat(digits);
    size_t first = !digits.empty() && (digits[0] == '+' || digits[0] == '-') ? 1 : 0;
    bool looks_numeric =
        first < digits.size() && std::isdigit(static_cast<unsigned char>(digits[first]));
    if (f && looks_numeric && digits.find_first_of("xXpP") == std::string::npos) {
      v->type = TomlValue::Type::Float;
      v->number = *f;
      return true;
    }
    return fail("unsupported value " + v->text + " (want a string, number, boolean or array)");
  }

  std::string text_;
  size_t pos_ = 0;
  int line_ = 1;
  std::string error_;
};

std::string typeName(TomlValue::Type t) {
  switch (t) {
    case TomlValue::Type::String:
      return "a string";
    case TomlValue::Type::Integer:
      return "an integer";
    case TomlValue::Type::Float:
      return "a float";
    case TomlValue::Type::Bool:
      return "a boolean";
    case TomlValue::Type::Array:
      return "an array";
  }
  return "a value";
}

std::string numberText(const TomlValue& v) {
  if (v.type == TomlValue::Type::Integer) return std::to_string(v.integer);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v.number);
  return buf;
}

// Sets a flag from a TOML value with nsqd's option resolver's coercions.
Reason applyToml(O& o, const Flag& f, const TomlValue& v) {
  using T = TomlValue::Type;
  std::string wanted;
  switch (f.kind) {
    case Kind::String:
      if (v.type == T::String) return f.set_text(o, v.text);
      wanted = "a string";
      break;
    case Kind::BoolText:
      if (v.type == T::String) return f.set_text(o, v.text);
      if (v.type == T::Bool) return f.set_text(o, v.boolean ? "true" : "false");
      wanted = "a boolean or a string";
      break;
    case Kind::Bool:
      if (v.type == T::Bool) {
        f.set_bool(o, v.boolean);
        return {};
      }
      if (v.type == T::String) return applyText(o, f, v.text);
      wanted = "a boolean";
      break;
    case Kind::Int:
      if (v.type == T::Integer) return f.set_int(o, v.integer);
      if (v.type == T::String) return applyText(o, f, v.text);
      wanted = "an integer";
      break;
    case Kind::Duration:
      // nsqd's resolver reads an integer (or a string of digits) as milliseconds.
      if (v.type == T::Integer) return f.set_int(o, v.integer);
      if (v.type == T::String) {
        if (!v.text.empty() && std::all_of(v.text.begin(), v.text.end(),
                                           [](char c) { return c >= '0' && c <= '9'; })) {
          Reason reason;
          std::optional<int64_t> ms = parseGoInt(v.text, &reason);
          if (!ms) return reason;
          return f.set_int(o, *ms);
        }
        return applyText(o, f, v.text);
      }
      wanted = "a duration string such as \"1m30s\" or an integer of milliseconds";
      break;
    case Kind::StringList:
    case Kind::FloatList: {
      bool floats = f.kind == Kind::FloatList;
      f.clear(o);
      if (v.type == T::String) return applyText(o, f, v.text);  // comma separated in nsqd
      if (v.type == T::Array) {
        for (const TomlValue& item : v.items) {
          Reason reason;
          if (item.type == T::String && !floats) {
            reason = applyText(o, f, item.text);
          } else if ((item.type == T::Float || item.type == T::Integer) && floats) {
            reason = f.set_text(o, numberText(item));
          } else {
            reason = std::string("an array element is ") + typeName(item.type) + ", want " +
                     (floats ? "numbers" : "strings");
          }
          if (!reason.empty()) return reason;
        }
        return {};
      }
      wanted = floats ? "an array of numbers" : "an array of strings";
      break;
    }
  }
  return typeName(v.type) + " where " + wanted + " was expected";
}

Status loadConfigFile(const std::string& path, O& o) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return invalidArgument("--config: failed to load config file " + path + " - open " + path +
                           ": " + std::strerror(err));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  TomlReader reader(buffer.str());
  std::set<std::string> seen;
  std::string key;
  TomlValue value;
  int key_line = 0;
  while (reader.next(&key, &value, &key_line)) {
    std::string where = path + ":" + std::to_string(key_line) + ": ";
    if (!seen.insert(key).second) return invalidArgument(where + "key " + key + " given twice");
    const Flag* f = findCfgKey(key);
    if (f == nullptr) {
      return invalidArgument(where + "unknown key " + key +
                             " (keys are nsqd's flag names with '_')");
    }
    Reason reason = applyToml(o, *f, value);
    if (!reason.empty()) {
      std::string shown = value.type == TomlValue::Type::String ? quote(value.text) : value.text;
      return invalidArgument(where + "invalid value " + shown + " for " + key + " (--" +
                             std::string(f->name) + "): " + reason);
    }
  }
  if (!reader.error().empty()) {
    return invalidArgument("--config: " + path + ":" + std::to_string(reader.line()) + ": " +
                           reader.error());
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------

std::string usage() {
  std::vector<std::pair<std::string, std::string>> entries;  // name, text; sorted as Go does
  auto entry = [&](std::string_view name, std::string_view type, std::string_view help,
                   std::string_view def) {
    std::string text = "  --" + std::string(name);
    if (!type.empty()) text += " " + std::string(type);
    text += "\n    \t" + std::string(help);
    if (!def.empty()) text += " (default " + std::string(def) + ")";
    entries.emplace_back(std::string(name), text + "\n");
  };
  entry("config", "string", "path to config file (nsqd's TOML: flag names with '_')", "");
  entry("help", "", "print this help", "");
  entry("version", "", "print version string", "");
  for (const Flag& f : flags()) {
    std::string_view type;
    switch (f.kind) {
      case Kind::String:
        type = "string";
        break;
      case Kind::Int:
        type = "int";
        break;
      case Kind::Bool:
        type = "";
        break;
      case Kind::Duration:
        type = "duration";
        break;
      case Kind::StringList:
      case Kind::FloatList:
      case Kind::BoolText:
        type = "value";
        break;
    }
    entry(f.name, type, f.help, f.default_text);
  }
  std::sort(entries.begin(), entries.end());
  std::string out =
      "Usage of queued (nsqd v1.3.0's flags: -flag, --flag, -flag=value, --flag value; "
      "durations as 250ms, 1m30s):\n";
  for (const auto& [name, text] : entries)
    out += text;
  return out;
}

std::string hostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

// Checks across flags, made after the command line and the file are merged (nsqd's New()).
Status validate(O& o) {
  if (!o.tls_client_auth_policy.empty() && o.tls_required == 0) o.tls_required = 2;
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return invalidArgument("--tls-cert and --tls-key must be given together");
  }
  bool tls = !o.tls_cert.empty();
  if (!tls && o.tls_required != 0) {
    return invalidArgument(
        "cannot require TLS client connections without TLS key and cert (--tls-required or "
        "--tls-client-auth-policy needs --tls-cert and --tls-key)");
  }
  if (tls && !o.https_address.empty()) {
    return invalidArgument(
        "--https-address: with --tls-cert and --tls-key nsqd would serve HTTPS on " +
        o.https_address +
        " but queued has no HTTPS listener yet; pass --https-address= to run "
        "without it");
  }
  return Status::ok();
}

}  // namespace

int QueuedOptions::defaultNodeId(std::string_view hostname) {
  unsigned char md5[EVP_MAX_MD_SIZE];
  unsigned int md5_len = 0;
  if (EVP_Digest(hostname.data(), hostname.size(), md5, &md5_len, EVP_md5(), nullptr) != 1) {
    return 0;
  }
  uLong crc = crc32(0L, md5, md5_len);
  return static_cast<int>(crc % 1024);
}

Result<QueuedOptions> QueuedOptions::parse(int argc, char** argv) {
  QueuedOptions o;
  o.broadcast_address = hostName();
  o.node_id = defaultNodeId(o.broadcast_address);

  struct Assignment {
    const Flag* flag;
    std::string value;
  };
  std::vector<Assignment> assignments;
  std::string config;
  bool version = false;

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      if (i + 1 < argc) {
        return invalidArgument("unexpected argument " + quote(argv[i + 1]) +
                               ": queued takes no positional arguments");
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return invalidArgument("unexpected argument " + quote(arg) +
                             ": queued takes no positional arguments (a boolean flag takes its "
                             "value as --flag=false, not --flag false)");
    }
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return invalidArgument("bad flag syntax: " + std::string(arg));
    }
    size_t eq = body.find('=');
    std::string_view name = body.substr(0, eq);
    bool has_value = eq != std::string_view::npos;
    std::string value(has_value ? body.substr(eq + 1) : std::string_view());
    std::string shown = "--" + std::string(name);

    if (name == "help" || name == "h") {
      std::fputs(usage().c_str(), stdout);
      std::fflush(stdout);
      return Status(Code::CANCELLED, "--help printed the usage");
    }
    if (name == "version") {
      std::optional<bool> b = has_value ? parseGoBool(value) : std::optional<bool>(true);
      if (!b)
        return invalidArgument("invalid value " + quote(value) +
                               " for flag --version: parse error");
      version = *b;
      continue;
    }
    const Flag* flag = findFlag(name);
    if (flag == nullptr && name != "config") {
      return invalidArgument(
          "flag provided but not defined: " + std::string(arg.substr(0, arg.size() - body.size())) +
          std::string(name));
    }
    if (!has_value && (flag == nullptr || !isBoolLike(*flag))) {
      if (i + 1 >= argc) return invalidArgument("flag needs an argument: " + shown);
      value = argv[++i];
    } else if (!has_value) {
      value = "true";
    }
    if (flag == nullptr) {
      config = value;
    } else {
      assignments.push_back({flag, value});
    }
  }

  if (version) {
    std::fputs(kVersionText.data(), stdout);
    std::fflush(stdout);
    return Status(Code::CANCELLED, "--version printed the version");
  }
  if (!config.empty()) RETURN_IF_ERROR(loadConfigFile(config, o));

  std::set<const Flag*> lists_cleared;
  for (const Assignment& a : assignments) {
    if (isList(*a.flag) && lists_cleared.insert(a.flag).second) a.flag->clear(o);
    Reason reason = applyText(o, *a.flag, a.value);
    if (!reason.empty()) {
      return invalidArgument("invalid value " + quote(a.value) + " for flag --" +
                             std::string(a.flag->name) + ": " + reason);
    }
  }
  RETURN_IF_ERROR(validate(o));
  return o;
}

}  // namespace push::queued
