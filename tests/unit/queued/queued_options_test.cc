#include "services/queued/queued_options.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace push::queued {
namespace {

using ::testing::HasSubstr;

// argv as main() gets it: program name first, writable strings.
class Argv {
 public:
  Argv(std::initializer_list<std::string> args) : storage_(args) {
    storage_.insert(storage_.begin(), "push-queued");
    for (auto& s : storage_)
      ptrs_.push_back(s.data());
  }
  int argc() const { return static_cast<int>(ptrs_.size()); }
  char** argv() { return ptrs_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> ptrs_;
};

Result<QueuedOptions> parse(std::initializer_list<std::string> args) {
  Argv argv(args);
  return QueuedOptions::parse(argv.argc(), argv.argv());
}

QueuedOptions parseOk(std::initializer_list<std::string> args) {
  Result<QueuedOptions> r = parse(args);
  EXPECT_TRUE(r.isOk()) << r.status();
  return r.isOk() ? r.value() : QueuedOptions{};
}

std::string parseError(std::initializer_list<std::string> args) {
  Result<QueuedOptions> r = parse(args);
  EXPECT_FALSE(r.isOk());
  if (r.isOk()) return "";
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT) << r.status();
  return r.status().message();
}

std::string hostName() {
  char buf[256] = {};
  EXPECT_EQ(gethostname(buf, sizeof buf - 1), 0);
  return buf;
}

// A directory of its own under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "queued_options_XXXXXX");
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::string file = path_ + "/" + name;
    std::ofstream(file) << text;
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Every flag `nsqd --help` (v1.3.0) lists, with a value queued accepts.
const std::vector<std::pair<std::string, std::string>> kNsqdFlags = {
    {"auth-http-address", "127.0.0.1:4181"},
    {"broadcast-address", "h1"},
    {"broadcast-http-port", "4151"},
    {"broadcast-tcp-port", "4150"},
    {"config", ""},
    {"data-path", "/tmp"},
    {"deflate", "false"},
    {"e2e-processing-latency-window-time", "10m"},
    {"http-address", "127.0.0.1:0"},
    {"http-client-connect-timeout", "2s"},
    {"http-client-request-timeout", "5s"},
    {"https-address", "0.0.0.0:4152"},
    {"log-level", "warn"},
    {"log-prefix", "[q] "},
    {"lookupd-tcp-address", "127.0.0.1:4160"},
    {"max-body-size", "5242880"},
    {"max-bytes-per-file", "104857600"},
    {"max-channel-consumers", "0"},
    {"max-deflate-level", "6"},
    {"max-heartbeat-interval", "1m"},
    {"max-msg-size", "1048576"},
    {"max-msg-timeout", "15m"},
    {"max-output-buffer-size", "65536"},
    {"max-output-buffer-timeout", "30s"},
    {"max-rdy-count", "2500"},
    {"max-req-timeout", "1h"},
    {"mem-queue-size", "10000"},
    {"min-output-buffer-timeout", "25ms"},
    {"msg-timeout", "1m"},
    {"node-id", "1"},
    {"output-buffer-timeout", "250ms"},
    {"queue-scan-selection-count", "20"},
    {"queue-scan-worker-pool-max", "4"},
    {"snappy", "true"},
    {"statsd-address", ""},
    {"statsd-exclude-ephemeral", "true"},
    {"statsd-interval", "1m"},
    {"statsd-mem-stats", "false"},
    {"statsd-prefix", "nsq.%s"},
    {"statsd-udp-packet-size", "508"},
    {"sync-every", "2500"},
    {"sync-timeout", "2s"},
    {"tcp-address", "127.0.0.1:0"},
    {"tls-cert", ""},
    {"tls-client-auth-policy", ""},
    {"tls-key", ""},
    {"tls-min-version", "tls1.2"},
    {"tls-required", "false"},
    {"tls-root-ca-file", "/tmp/ca.pem"},
    {"verbose", "true"},
    {"version", "false"},
    {"worker-id", "true"},
};

TEST(QueuedOptionsTest, DefaultsAreNsqds) {
  QueuedOptions o = parseOk({});
  EXPECT_EQ(o.tcp_address, "0.0.0.0:4150");
  EXPECT_EQ(o.http_address, "0.0.0.0:4151");
  EXPECT_EQ(o.https_address, "0.0.0.0:4152");
  EXPECT_EQ(o.broadcast_address, hostName());
  EXPECT_EQ(o.broadcast_tcp_port, 0);
  EXPECT_EQ(o.broadcast_http_port, 0);
  EXPECT_TRUE(o.lookupd_tcp_addresses.empty());
  EXPECT_TRUE(o.auth_http_addresses.empty());
  EXPECT_EQ(o.http_client_connect_timeout_ms, 2000);
  EXPECT_EQ(o.http_client_request_timeout_ms, 5000);
  EXPECT_EQ(o.node_id, QueuedOptions::defaultNodeId(hostName()));
  EXPECT_EQ(o.queue.data_path, "");  // the current directory, as nsqd
  EXPECT_EQ(o.queue.mem_queue_size, 10000);
  EXPECT_EQ(o.queue.max_bytes_per_file, 104857600u);
  EXPECT_EQ(o.queue.sync_every, 2500u);
  EXPECT_EQ(o.sync_timeout_ms, 2000);
  EXPECT_EQ(o.queue.msg_timeout_ms, 60000);
  EXPECT_EQ(o.queue.max_msg_timeout_ms, 15 * 60000);
  EXPECT_EQ(o.queue.max_msg_size, 1048576u);
  EXPECT_EQ(o.max_body_size, 5242880u);
  EXPECT_EQ(o.queue.max_req_timeout_ms, 3600000);
  EXPECT_EQ(o.max_heartbeat_interval_ms, 60000);
  EXPECT_EQ(o.max_rdy_count, 2500);
  EXPECT_EQ(o.max_output_buffer_size, 65536);
  EXPECT_EQ(o.max_output_buffer_timeout_ms, 30000);
  EXPECT_EQ(o.min_output_buffer_timeout_ms, 25);
  EXPECT_EQ(o.output_buffer_timeout_ms, 250);
  EXPECT_EQ(o.max_channel_consumers, 0);
  EXPECT_TRUE(o.deflate);
  EXPECT_TRUE(o.snappy);
  EXPECT_EQ(o.max_deflate_level, 6);
  EXPECT_EQ(o.tls_required, 0);
  EXPECT_EQ(o.tls_min_version, "tls1.0");
  EXPECT_EQ(o.log_level, "info");
  EXPECT_EQ(o.log_prefix, "[nsqd] ");
}

TEST(QueuedOptionsTest, DefaultNodeIdIsNsqdsHashOfTheHostName) {
  // `nsqd --help` v1.3.0 on a host named "vm" prints "(default 617)" for --node-id.
  EXPECT_EQ(QueuedOptions::defaultNodeId("vm"), 617);
  int id = QueuedOptions::defaultNodeId("some.other.host");
  EXPECT_GE(id, 0);
  EXPECT_LT(id, 1024);
}

TEST(QueuedOptionsTest, AcceptsEveryGoFlagSyntax) {
  EXPECT_EQ(parseOk({"-max-rdy-count=7"}).max_rdy_count, 7);
  EXPECT_EQ(parseOk({"--max-rdy-count=7"}).max_rdy_count, 7);
  EXPECT_EQ(parseOk({"-max-rdy-count", "7"}).max_rdy_count, 7);
  EXPECT_EQ(parseOk({"--max-rdy-count", "7"}).max_rdy_count, 7);
  EXPECT_EQ(parseOk({"--data-path="}).queue.data_path, "");
  EXPECT_EQ(parseOk({"--data-path", "/var/x=y"}).queue.data_path, "/var/x=y");
  // Booleans: bare means true; a value only with '='.
  EXPECT_FALSE(parseOk({"--deflate=false"}).deflate);
  EXPECT_FALSE(parseOk({"-snappy=0"}).snappy);
  EXPECT_TRUE(parseOk({"--snappy=false", "--snappy"}).snappy);
  EXPECT_TRUE(parseOk({"--deflate=T"}).deflate);
  EXPECT_THAT(parseError({"--deflate", "false"}), HasSubstr("\"false\""));
  EXPECT_THAT(parseError({"--deflate=no"}), HasSubstr("--deflate"));
  // The last of a repeated single-valued flag wins.
  EXPECT_EQ(parseOk({"--mem-queue-size=1", "--mem-queue-size=2"}).queue.mem_queue_size, 2);
  // `--` ends the flags; anything after it, or any other positional argument, is an error.
  EXPECT_EQ(parseOk({"--max-rdy-count=3", "--"}).max_rdy_count, 3);
  EXPECT_THAT(parseError({"--", "--max-rdy-count=3"}), HasSubstr("unexpected argument"));
  EXPECT_THAT(parseError({"extra"}), HasSubstr("unexpected argument \"extra\""));
  EXPECT_THAT(parseError({"-"}), HasSubstr("unexpected argument"));
  EXPECT_THAT(parseError({"---x"}), HasSubstr("bad flag syntax: ---x"));
  EXPECT_THAT(parseError({"--=x"}), HasSubstr("bad flag syntax"));
}

TEST(QueuedOptionsTest, UnknownFlagsAndMissingValuesAreErrors) {
  EXPECT_EQ(parseError({"--no-such-flag=1"}), "flag provided but not defined: --no-such-flag");
  EXPECT_EQ(parseError({"-client-timeout=5s"}), "flag provided but not defined: -client-timeout");
  EXPECT_EQ(parseError({"--max-rdy-count"}), "flag needs an argument: --max-rdy-count");
  EXPECT_EQ(parseError({"--config"}), "flag needs an argument: --config");
}

TEST(QueuedOptionsTest, IntegersUseGoSyntax) {
  EXPECT_EQ(parseOk({"--max-rdy-count=0x10"}).max_rdy_count, 16);
  EXPECT_EQ(parseOk({"--max-rdy-count=010"}).max_rdy_count, 8);
  EXPECT_EQ(parseOk({"--max-rdy-count=0b101"}).max_rdy_count, 5);
  EXPECT_EQ(parseOk({"--max-rdy-count=1_000"}).max_rdy_count, 1000);
  EXPECT_EQ(parseOk({"--max-rdy-count=+0"}).max_rdy_count, 0);
  EXPECT_EQ(parseError({"--max-rdy-count=12x"}),
            "invalid value \"12x\" for flag --max-rdy-count: parse error");
  EXPECT_THAT(parseError({"--max-rdy-count=08"}), HasSubstr("parse error"));
  EXPECT_THAT(parseError({"--max-rdy-count=1__0"}), HasSubstr("parse error"));
  EXPECT_THAT(parseError({"--max-rdy-count=0x"}), HasSubstr("parse error"));
  EXPECT_THAT(parseError({"--max-rdy-count="}), HasSubstr("parse error"));
  EXPECT_THAT(parseError({"--max-rdy-count=9223372036854775808"}), HasSubstr("value out of range"));
}

TEST(QueuedOptionsTest, DurationsUseGoSyntaxAndBecomeMilliseconds) {
  EXPECT_EQ(parseOk({"--msg-timeout=250ms"}).queue.msg_timeout_ms, 250);
  EXPECT_EQ(parseOk({"--msg-timeout=2s"}).queue.msg_timeout_ms, 2000);
  EXPECT_EQ(parseOk({"--msg-timeout=1m"}).queue.msg_timeout_ms, 60000);
  EXPECT_EQ(parseOk({"--msg-timeout=1h30m"}).queue.msg_timeout_ms, 5400000);
  EXPECT_EQ(parseOk({"--msg-timeout=1.5s"}).queue.msg_timeout_ms, 1500);
  EXPECT_EQ(parseOk({"--msg-timeout=.5s"}).queue.msg_timeout_ms, 500);
  EXPECT_EQ(parseOk({"--msg-timeout=1m0s"}).queue.msg_timeout_ms, 60000);
  EXPECT_EQ(parseOk({"--msg-timeout=3000000us"}).queue.msg_timeout_ms, 3000);
  EXPECT_EQ(parseOk({"--msg-timeout=2000000000ns"}).queue.msg_timeout_ms, 2000);
  EXPECT_EQ(parseOk({"--output-buffer-timeout=0"}).output_buffer_timeout_ms, 0);
  EXPECT_EQ(parseOk({"--output-buffer-timeout=1500us"}).output_buffer_timeout_ms, 1);
  EXPECT_EQ(parseError({"--msg-timeout=60"}),
            "invalid value \"60\" for flag --msg-timeout: time: missing unit in duration \"60\"");
  EXPECT_THAT(parseError({"--msg-timeout=5d"}), HasSubstr("unknown unit \"d\""));
  EXPECT_THAT(parseError({"--msg-timeout=."}), HasSubstr("invalid duration"));
  EXPECT_THAT(parseError({"--msg-timeout="}), HasSubstr("invalid duration"));
  EXPECT_THAT(parseError({"--msg-timeout=3000000h"}), HasSubstr("invalid duration"));
  EXPECT_EQ(parseError({"--max-req-timeout=-1s"}),
            "invalid value \"-1s\" for flag --max-req-timeout: must not be negative");
}

TEST(QueuedOptionsTest, ListFlagsRepeat) {
  QueuedOptions o = parseOk({"--lookupd-tcp-address=a:4160", "--auth-http-address", "b:1",
                             "-lookupd-tcp-address", "c:4160", "--auth-http-address=http://d/"});
  EXPECT_EQ(o.lookupd_tcp_addresses, (std::vector<std::string>{"a:4160", "c:4160"}));
  EXPECT_EQ(o.auth_http_addresses, (std::vector<std::string>{"b:1", "http://d/"}));
}

TEST(QueuedOptionsTest, AcceptsEveryNsqdFlag) {
  for (const auto& [name, value] : kNsqdFlags) {
    Argv argv({"--" + name + "=" + value});
    Result<QueuedOptions> r = QueuedOptions::parse(argv.argc(), argv.argv());
    EXPECT_TRUE(r.isOk()) << name << ": " << r.status();
  }
  QueuedOptions o = parseOk({"--verbose", "--worker-id"});  // deprecated: no effect
  EXPECT_EQ(o.node_id, QueuedOptions::defaultNodeId(hostName()));
  EXPECT_EQ(o.log_level, "info");
}

TEST(QueuedOptionsTest, SetsWhatTheFlagsSay) {
  QueuedOptions o = parseOk({"--tcp-address=127.0.0.1:5150",
                             "--http-address=[::1]:5151",
                             "--broadcast-address=b",
                             "--broadcast-tcp-port=1",
                             "--broadcast-http-port=2",
                             "--node-id=1023",
                             "--data-path=/d",
                             "--mem-queue-size=0",
                             "--max-bytes-per-file=4096",
                             "--sync-every=0",
                             "--sync-timeout=100ms",
                             "--msg-timeout=5s",
                             "--max-msg-timeout=1m",
                             "--max-msg-size=10",
                             "--max-body-size=20",
                             "--max-req-timeout=2m",
                             "--max-heartbeat-interval=5s",
                             "--max-rdy-count=9",
                             "--max-output-buffer-size=128",
                             "--max-output-buffer-timeout=2s",
                             "--min-output-buffer-timeout=5ms",
                             "--output-buffer-timeout=50ms",
                             "--max-channel-consumers=3",
                             "--max-deflate-level=9",
                             "--snappy=false",
                             "--log-level=DEBUG",
                             "--log-prefix=",
                             "--http-client-connect-timeout=1s",
                             "--http-client-request-timeout=0"});
  EXPECT_EQ(o.tcp_address, "127.0.0.1:5150");
  EXPECT_EQ(o.http_address, "[::1]:5151");
  EXPECT_EQ(o.broadcast_address, "b");
  EXPECT_EQ(o.broadcast_tcp_port, 1);
  EXPECT_EQ(o.broadcast_http_port, 2);
  EXPECT_EQ(o.node_id, 1023);
  EXPECT_EQ(o.queue.data_path, "/d");
  EXPECT_EQ(o.queue.mem_queue_size, 0);
  EXPECT_EQ(o.queue.max_bytes_per_file, 4096u);
  EXPECT_EQ(o.queue.sync_every, 0u);
  EXPECT_EQ(o.sync_timeout_ms, 100);
  EXPECT_EQ(o.queue.msg_timeout_ms, 5000);
  EXPECT_EQ(o.queue.max_msg_timeout_ms, 60000);
  EXPECT_EQ(o.queue.max_msg_size, 10u);
  EXPECT_EQ(o.max_body_size, 20u);
  EXPECT_EQ(o.queue.max_req_timeout_ms, 120000);
  EXPECT_EQ(o.max_heartbeat_interval_ms, 5000);
  EXPECT_EQ(o.max_rdy_count, 9);
  EXPECT_EQ(o.max_output_buffer_size, 128);
  EXPECT_EQ(o.max_output_buffer_timeout_ms, 2000);
  EXPECT_EQ(o.min_output_buffer_timeout_ms, 5);
  EXPECT_EQ(o.output_buffer_timeout_ms, 50);
  EXPECT_EQ(o.max_channel_consumers, 3);
  EXPECT_EQ(o.max_deflate_level, 9);
  EXPECT_TRUE(o.deflate);
  EXPECT_FALSE(o.snappy);
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_EQ(o.log_prefix, "");
  EXPECT_EQ(o.http_client_connect_timeout_ms, 1000);
  EXPECT_EQ(o.http_client_request_timeout_ms, 0);
}

TEST(QueuedOptionsTest, TlsFlagsAreAcceptedWithCertAndKey) {
  QueuedOptions o = parseOk({"--tls-cert=c.pem", "--tls-key=k.pem",
                             "--https-address=", "--tls-required=tcp-https",
                             "--tls-min-version=TLS1.3", "--tls-root-ca-file=ca.pem"});
  EXPECT_EQ(o.tls_cert, "c.pem");
  EXPECT_EQ(o.tls_key, "k.pem");
  EXPECT_EQ(o.tls_root_ca_file, "ca.pem");
  EXPECT_EQ(o.tls_required, 1);
  EXPECT_EQ(o.tls_min_version, "tls1.3");
  EXPECT_EQ(o.https_address, "");
  EXPECT_EQ(
      parseOk({"--tls-cert=c", "--tls-key=k", "--https-address=", "--tls-required"}).tls_required,
      2);
  EXPECT_EQ(parseOk({"--tls-cert=c", "--tls-key=k", "--https-address=", "--tls-required=false"})
                .tls_required,
            0);
  // A client-auth policy turns "not required" into "required", as nsqd.
  o = parseOk({"--tls-cert=c", "--tls-key=k",
               "--https-address=", "--tls-client-auth-policy=require-verify"});
  EXPECT_EQ(o.tls_client_auth_policy, "require-verify");
  EXPECT_EQ(o.tls_required, 2);
  // Without cert and key, an explicit https address is harmless: nsqd would not serve it either.
  EXPECT_EQ(parseOk({"--https-address=127.0.0.1:1"}).https_address, "127.0.0.1:1");
  // With them, HTTPS is served on --https-address (nsqd's default unless given), as nsqd.
  EXPECT_EQ(parseOk({"--tls-cert=c", "--tls-key=k"}).https_address, "0.0.0.0:4152");
  EXPECT_EQ(
      parseOk({"--tls-cert=c", "--tls-key=k", "--https-address=127.0.0.1:4443"}).https_address,
      "127.0.0.1:4443");
}

struct Refusal {
  std::vector<std::string> args;
  std::vector<std::string> expected;  // substrings of the message, the flag's name among them
};

TEST(QueuedOptionsTest, EveryRefusalNamesTheFlag) {
  const std::vector<Refusal> refusals = {
      // nsqd's own checks, with nsqd's texts.
      {{"--node-id=1024"}, {"--node-id must be [0,1024)"}},
      {{"--node-id=-1"}, {"--node-id must be [0,1024)"}},
      {{"--max-deflate-level=0"}, {"--max-deflate-level must be [1,9]"}},
      {{"--max-deflate-level=10"}, {"--max-deflate-level must be [1,9]"}},
      {{"--tls-required"},
       {"cannot require TLS client connections without TLS key and cert", "--tls-required"}},
      {{"--tls-client-auth-policy=require"},
       {"cannot require TLS client connections without TLS key and cert",
        "--tls-client-auth-policy"}},
      {{"--tls-min-version=tls9"},
       {"invalid value \"tls9\" for flag --tls-min-version: unknown tlsVersionOption \"tls9\""}},
      {{"--log-level=loud"}, {"--log-level", "invalid log level 'loud'"}},
      {{"--e2e-processing-latency-percentile=1.5"},
       {"--e2e-processing-latency-percentile", "invalid E2E processing latency percentile: 1.5"}},
      {{"--e2e-processing-latency-percentile=0"},
       {"--e2e-processing-latency-percentile", "invalid E2E processing latency percentile: 0"}},
      {{"--tls-required=maybe"}, {"--tls-required"}},
      // What queued cannot do.
      {{"--statsd-address=127.0.0.1:8125"}, {"--statsd-address", "statsd"}},
      {{"--e2e-processing-latency-percentile=0.99"},
       {"--e2e-processing-latency-percentile", "percentiles"}},
      {{"--e2e-processing-latency-percentile=1.0,0.99"}, {"--e2e-processing-latency-percentile"}},
      {{"--tcp-address=/tmp/nsqd.sock"}, {"--tcp-address", "unix socket"}},
      {{"--http-address=/tmp/nsqd-http.sock"}, {"--http-address", "unix socket"}},
      {{"--tcp-address=::1:4150"}, {"--tcp-address", "brackets"}},
      {{"--http-address=127.0.0.1:http"}, {"--http-address", "port"}},
      {{"--tcp-address=127.0.0.1:65536"}, {"--tcp-address", "port"}},
      // Checks nsqd lacks.
      {{"--mem-queue-size=-1"}, {"--mem-queue-size", "must not be negative"}},
      {{"--max-msg-size=0"}, {"--max-msg-size", "out of range [1, 4294967295]"}},
      {{"--max-msg-size=4294967296"}, {"--max-msg-size", "out of range"}},
      {{"--max-body-size=0"}, {"--max-body-size", "out of range"}},
      {{"--max-bytes-per-file=0"}, {"--max-bytes-per-file", "must be positive"}},
      {{"--sync-every=-1"}, {"--sync-every", "must not be negative"}},
      {{"--max-rdy-count=-1"}, {"--max-rdy-count"}},
      {{"--max-output-buffer-size=-1"}, {"--max-output-buffer-size"}},
      {{"--max-channel-consumers=-1"}, {"--max-channel-consumers"}},
      {{"--msg-timeout=0"}, {"--msg-timeout", "must be positive"}},
      {{"--sync-timeout=0s"}, {"--sync-timeout", "must be positive"}},
      {{"--max-heartbeat-interval=-5s"}, {"--max-heartbeat-interval"}},
      {{"--min-output-buffer-timeout=-1ms"}, {"--min-output-buffer-timeout"}},
      {{"--broadcast-tcp-port=70000"}, {"--broadcast-tcp-port", "out of range [0, 65535]"}},
      {{"--broadcast-http-port=-1"}, {"--broadcast-http-port"}},
      {{"--tls-cert=c"}, {"--tls-cert and --tls-key must be given together"}},
      {{"--tls-key=k"}, {"--tls-cert and --tls-key must be given together"}},
      {{"--tls-client-auth-policy=optional"}, {"--tls-client-auth-policy"}},
      {{"--queue-scan-worker-pool-max=-1"}, {"--queue-scan-worker-pool-max"}},
      {{"--statsd-udp-packet-size=-1"}, {"--statsd-udp-packet-size"}},
      {{"--version=maybe"}, {"--version"}},
  };
  for (const Refusal& refusal : refusals) {
    std::vector<std::string> storage = refusal.args;
    storage.insert(storage.begin(), "push-queued");
    std::vector<char*> ptrs;
    for (auto& s : storage)
      ptrs.push_back(s.data());
    Result<QueuedOptions> r = QueuedOptions::parse(static_cast<int>(ptrs.size()), ptrs.data());
    ASSERT_FALSE(r.isOk()) << refusal.args[0];
    EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT) << refusal.args[0];
    for (const std::string& want : refusal.expected) {
      EXPECT_THAT(r.status().message(), HasSubstr(want)) << refusal.args[0];
    }
  }
}

TEST(QueuedOptionsTest, ReadsNsqdsTomlConfigAndTheCommandLineOverridesIt) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string file = dir.write("nsqd.cfg", R"(# nsqd.cfg as nsqd reads it
## log verbosity level: debug, info, warn, error, or fatal
log_level = "warn"
id = 42  # the node id
tcp_address = "127.0.0.1:6150"
http_address = '127.0.0.1:6151'
broadcast_address = "b\u00e9\"x\""
nsqlookupd_tcp_addresses = [
    "127.0.0.1:4160",  # first
    "127.0.0.1:4162",
]
auth_http_addresses = ["a:1"]
mem_queue_size = 1_000
max_bytes_per_file = 0x1000
snappy = false
deflate = "true"
msg_timeout = "90s"
max_msg_timeout = 120000
max_req_timeout = "300000"
sync_timeout = "1.5s"
tls_required = "tcp-https"
tls_cert = "c.pem"
tls_key = "k.pem"
https_address = ""
tls_min_version = "tls1.2"
statsd_prefix = "nsq.%s"
statsd_mem_stats = true
e2e_processing_latency_window_time = "10m"
)");
  QueuedOptions o = parseOk({"--config=" + file});
  EXPECT_EQ(o.log_level, "warn");
  EXPECT_EQ(o.node_id, 42);
  EXPECT_EQ(o.tcp_address, "127.0.0.1:6150");
  EXPECT_EQ(o.http_address, "127.0.0.1:6151");
  EXPECT_EQ(o.broadcast_address, "b\xC3\xA9\"x\"");
  EXPECT_EQ(o.lookupd_tcp_addresses,
            (std::vector<std::string>{"127.0.0.1:4160", "127.0.0.1:4162"}));
  EXPECT_EQ(o.auth_http_addresses, (std::vector<std::string>{"a:1"}));
  EXPECT_EQ(o.queue.mem_queue_size, 1000);
  EXPECT_EQ(o.queue.max_bytes_per_file, 4096u);
  EXPECT_FALSE(o.snappy);
  EXPECT_TRUE(o.deflate);
  EXPECT_EQ(o.queue.msg_timeout_ms, 90000);
  EXPECT_EQ(o.queue.max_msg_timeout_ms, 120000);  // an integer duration is milliseconds
  EXPECT_EQ(o.queue.max_req_timeout_ms, 300000);
  EXPECT_EQ(o.sync_timeout_ms, 1500);
  EXPECT_EQ(o.tls_required, 1);
  EXPECT_EQ(o.tls_min_version, "tls1.2");

  // The command line wins, wherever it is; a list on the command line replaces the file's.
  o = parseOk({"--mem-queue-size=7", "--config", file, "--lookupd-tcp-address=x:1",
               "--lookupd-tcp-address=y:1", "--log-level=error"});
  EXPECT_EQ(o.queue.mem_queue_size, 7);
  EXPECT_EQ(o.lookupd_tcp_addresses, (std::vector<std::string>{"x:1", "y:1"}));
  EXPECT_EQ(o.log_level, "error");
  EXPECT_EQ(o.auth_http_addresses, (std::vector<std::string>{"a:1"}));  // from the file
  EXPECT_EQ(o.node_id, 42);
}

TEST(QueuedOptionsTest, ConfigFileErrorsNameTheFileLineAndKey) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  auto error = [&](const std::string& text) {
    std::string file = dir.write("bad.cfg", text);
    Result<QueuedOptions> r = parse({"--config=" + file});
    EXPECT_FALSE(r.isOk()) << text;
    return r.isOk() ? std::string() : r.status().message();
  };
  std::string path = dir.path() + "/bad.cfg";
  EXPECT_EQ(error("# x\nmem_queue_sise = 5\n"),
            path + ":2: unknown key mem_queue_sise (keys are nsqd's flag names with '_')");
  EXPECT_EQ(error("max_msg_size = 0\n"),
            path +
                ":1: invalid value 0 for max_msg_size (--max-msg-size): out of range [1, "
                "4294967295]");
  EXPECT_EQ(error("id = 2000\n"),
            path + ":1: invalid value 2000 for id (--node-id): --node-id must be [0,1024)");
  EXPECT_THAT(error("msg_timeout = \"1x\"\n"), HasSubstr("msg_timeout (--msg-timeout)"));
  EXPECT_THAT(error("tcp_address = 5\n"),
              HasSubstr("tcp_address (--tcp-address): an integer where a string was expected"));
  EXPECT_THAT(error("nsqlookupd_tcp_addresses = [1, 2]\n"),
              HasSubstr("nsqlookupd_tcp_addresses (--lookupd-tcp-address)"));
  EXPECT_THAT(error("statsd_address = \"s:1\"\n"), HasSubstr("statsd_address (--statsd-address)"));
  EXPECT_THAT(error("e2e_processing_latency_percentiles = [0.99]\n"),
              HasSubstr("(--e2e-processing-latency-percentile)"));
  EXPECT_THAT(error("tls_required = true\n"),
              HasSubstr("cannot require TLS client connections without TLS key and cert"));
  EXPECT_THAT(error("snappy = false\nsnappy = true\n"), HasSubstr(":2: key snappy given twice"));
  EXPECT_THAT(error("[nsqd]\nsnappy = false\n"), HasSubstr(":1: tables"));
  EXPECT_THAT(error("snappy false\n"), HasSubstr(":1: expected '='"));
  EXPECT_THAT(error("data_path = \"/x\n"), HasSubstr(":1: unterminated string"));
  EXPECT_THAT(error("nsqlookupd_tcp_addresses = [\n\"a:1\"\n"), HasSubstr("unterminated array"));
  EXPECT_THAT(error("data_path = \"/x\" junk\n"), HasSubstr("unexpected text"));
  EXPECT_THAT(error("max_rdy_count = 1979-05-27\n"), HasSubstr("unsupported value"));

  Result<QueuedOptions> missing = parse({"--config=" + dir.path() + "/none.cfg"});
  ASSERT_FALSE(missing.isOk());
  EXPECT_THAT(missing.status().message(),
              HasSubstr("--config: failed to load config file " + dir.path() + "/none.cfg"));
}

TEST(QueuedOptionsTest, HelpListsEveryFlagAndIsCancelled) {
  for (const char* help : {"--help", "-h", "-help"}) {
    testing::internal::CaptureStdout();
    Result<QueuedOptions> r = parse({"--max-rdy-count=1", help, "--not-a-flag"});
    std::string out = testing::internal::GetCapturedStdout();
    ASSERT_FALSE(r.isOk());
    EXPECT_EQ(r.status().code(), Code::CANCELLED);
    for (const auto& [name, value] : kNsqdFlags) {
      EXPECT_THAT(out, HasSubstr("  --" + name + (name == "deflate" ? "\n" : ""))) << name;
    }
    EXPECT_THAT(out, HasSubstr("(default \"0.0.0.0:4150\")"));
    EXPECT_THAT(out, HasSubstr("(default 1m0s)"));
  }
}

// queued's own flags (README "Ephemeral channels across a restart"), not in kNsqdFlags.
TEST(QueuedOptionsTest, EphemeralRestoreFlags) {
  QueuedOptions defaults = parseOk({});
  EXPECT_TRUE(defaults.queue.keep_ephemeral_on_restart);
  EXPECT_EQ(defaults.queue.ephemeral_restore_timeout_ms, 60000);
  EXPECT_FALSE(parseOk({"--keep-ephemeral-on-restart=false"}).queue.keep_ephemeral_on_restart);
  EXPECT_TRUE(parseOk({"--keep-ephemeral-on-restart"}).queue.keep_ephemeral_on_restart);
  EXPECT_EQ(parseOk({"--ephemeral-restore-timeout=250ms"}).queue.ephemeral_restore_timeout_ms, 250);
  EXPECT_EQ(parseOk({"-ephemeral-restore-timeout", "2m"}).queue.ephemeral_restore_timeout_ms,
            120000);
  EXPECT_THAT(parseError({"--ephemeral-restore-timeout=0s"}),
              HasSubstr("--ephemeral-restore-timeout"));

  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string file = dir.write("q.cfg",
                               "keep_ephemeral_on_restart = false\n"
                               "ephemeral_restore_timeout = \"5s\"\n");
  QueuedOptions o = parseOk({"--config=" + file});
  EXPECT_FALSE(o.queue.keep_ephemeral_on_restart);
  EXPECT_EQ(o.queue.ephemeral_restore_timeout_ms, 5000);

  testing::internal::CaptureStdout();
  (void)parse({"--help"});
  std::string help = testing::internal::GetCapturedStdout();
  EXPECT_THAT(help, HasSubstr("--keep-ephemeral-on-restart"));
  EXPECT_THAT(help, HasSubstr("--ephemeral-restore-timeout"));
}

TEST(QueuedOptionsTest, VersionSaysQueuedAndIsCancelled) {
  testing::internal::CaptureStdout();
  Result<QueuedOptions> r = parse({"--version"});
  std::string out = testing::internal::GetCapturedStdout();
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::CANCELLED);
  EXPECT_EQ(out, "queued v0.1 (nsqd v1.3.0 compatible)\n");
  EXPECT_TRUE(parse({"--version=false"}).isOk());
}

}  // namespace
}  // namespace push::queued
