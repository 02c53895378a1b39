// push-http-bench: a closed-loop HTTP/1.1 keep-alive GET load generator, so that
// run_route_bench.sh drives push-dispatcher and nginx with the same client (wrk is not
// installed). One libuv loop (common/net), C connections, D requests in flight on each
// (pipelined; responses come back in order), after a warm-up counts answers for T seconds.
//
//   push-http-bench --server H:P --path /v1/route?app=a&user=u [--users N]
//                   [--connections 32] [--depth 1] [--seconds 10] [--warmup 1]
//
// --users N appends (request number mod N) to the path, so a route benchmark asks for N
// different users (the path must end in "user=<prefix>"). Prints one line:
//   rps=<answers/s> p50_ms= p99_ms= p999_ms= max_ms= answers= non2xx= errors= bytes_per_answer=
// Exits 0, 1 when a connection failed or closed, 2 on a usage error.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/base/command_line.h"
#include "common/net/event_loop.h"
#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"
#include "loadtest/loadgen/http_pipeline_client.h"
#include "loadtest/loadgen/latency_histogram.h"

namespace {

using namespace push;
using Clock = std::chrono::steady_clock;

struct Bench {
  std::string host;
  std::string path;
  uint64_t users = 0;
  uint64_t next = 0;
  bool measuring = false;
  bool done = false;
  uint64_t answers = 0;
  uint64_t non2xx = 0;
  uint64_t errors = 0;
  uint64_t body_bytes = 0;
  loadgen::LatencyHistogram latency;
  std::string request;

  // Builds the next request into `request`; its send time is the tag.
  const std::string& build() {
    request.clear();
    request.append("GET ").append(path);
    if (users) request.append(std::to_string(next++ % users));
    request.append(" HTTP/1.1\r\nHost: ").append(host).append("\r\n\r\n");
    return request;
  }
};

uint64_t nowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl("push-http-bench", "closed-loop HTTP/1.1 keep-alive GET load");
  cl.option("server", "HOST:PORT", "server address (numeric)");
  cl.option("path", "PATH", "request target");
  cl.option("users", "N", "append (request number mod N) to the path; 0 (default): do not");
  cl.option("connections", "C", "keep-alive connections, default 32");
  cl.option("depth", "D", "requests in flight per connection, default 1");
  cl.option("seconds", "T", "measured seconds, default 10");
  cl.option("warmup", "W", "seconds before measuring, default 1");
  cl.flag("help", "print this help");
  if (Status st = cl.parse(argc, argv); !st.isOk() || cl.has("help")) {
    std::fprintf(stderr, "%s%s\n", st.isOk() ? "" : (st.toString() + "\n").c_str(),
                 cl.usage().c_str());
    return st.isOk() ? 0 : 2;
  }
  auto server = net::InetAddress::parse(cl.get("server"));
  auto users = cl.getInt("users", 0, 0, 1'000'000'000);
  auto conns = cl.getInt("connections", 32, 1, 10'000);
  auto depth = cl.getInt("depth", 1, 1, 1'000);
  auto seconds = cl.getInt("seconds", 10, 1, 3'600);
  auto warmup = cl.getInt("warmup", 1, 0, 60);
  for (const Status& st : {server.status(), users.status(), conns.status(), depth.status(),
                           seconds.status(), warmup.status()}) {
    if (!st.isOk()) {
      std::fprintf(stderr, "push-http-bench: %s\n", st.toString().c_str());
      return 2;
    }
  }
  if (cl.get("path").empty() || cl.get("path")[0] != '/') {
    std::fprintf(stderr, "push-http-bench: --path must start with '/'\n");
    return 2;
  }
  net::EventLoop loop;
  Bench bench;
  bench.host = cl.get("server");
  bench.path = cl.get("path");
  bench.users = static_cast<uint64_t>(*users);
  bool failed = false;

  std::vector<std::unique_ptr<loadgen::HttpPipelineClient>> clients;
  auto on_response = [&](loadgen::HttpPipelineClient& c,
                         const loadgen::HttpPipelineClient::Response& r) {
    if (bench.done) return;
    if (bench.measuring) {
      ++bench.answers;
      if (r.status < 200 || r.status > 299) ++bench.non2xx;
      bench.body_bytes += r.body.size();
      bench.latency.record(static_cast<int64_t>(nowNs() - r.tag));
    }
    if (!c.send(bench.build(), nowNs())) ++bench.errors;
  };
  auto on_closed = [&](loadgen::HttpPipelineClient&, const Status& why, size_t lost) {
    if (bench.done) return;
    std::fprintf(stderr, "push-http-bench: connection closed: %s (%zu lost)\n",
                 why.toString().c_str(), lost);
    ++bench.errors;
    failed = true;
  };
  size_t connected = 0;
  for (long long i = 0; i < *conns; ++i) {
    clients.push_back(std::make_unique<loadgen::HttpPipelineClient>(loop, on_response, on_closed));
    clients.back()->connect(*server, nullptr, std::chrono::seconds(5),
                            [&](loadgen::HttpPipelineClient& c, const Status& st) {
                              if (!st.isOk()) {
                                std::fprintf(stderr, "push-http-bench: connect: %s\n",
                                             st.toString().c_str());
                                failed = true;
                                return;
                              }
                              ++connected;
                              for (long long d = 0; d < *depth; ++d) {
                                c.send(bench.build(), nowNs());
                              }
                            });
  }
  if (!loop.runUntil([&] { return connected == clients.size() || failed; },
                     std::chrono::seconds(10)) ||
      failed) {
    std::fprintf(stderr, "push-http-bench: could not connect to %s\n", bench.host.c_str());
    return 1;
  }
  const auto warm_end = Clock::now() + std::chrono::seconds(*warmup);
  loop.runUntil([&] { return Clock::now() >= warm_end || failed; },
                std::chrono::seconds(*warmup + 5), std::chrono::milliseconds(10));
  bench.measuring = true;
  const auto begin = Clock::now();
  const auto end = begin + std::chrono::seconds(*seconds);
  loop.runUntil([&] { return Clock::now() >= end || failed; }, std::chrono::seconds(*seconds + 5),
                std::chrono::milliseconds(10));
  const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  bench.measuring = false;
  bench.done = true;
  for (auto& c : clients)
    c->close();
  loop.runUntil([] { return false; }, std::chrono::milliseconds(100));
  clients.clear();
  (void)loop.shutdown();
  const auto ms = [&](double q) { return static_cast<double>(bench.latency.percentile(q)) / 1e6; };
  std::printf(
      "rps=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f answers=%llu non2xx=%llu "
      "errors=%llu bytes_per_answer=%llu\n",
      static_cast<double>(bench.answers) / elapsed, ms(0.5), ms(0.99), ms(0.999),
      static_cast<double>(bench.latency.max()) / 1e6,
      static_cast<unsigned long long>(bench.answers), static_cast<unsigned long long>(bench.non2xx),
      static_cast<unsigned long long>(bench.errors),
      static_cast<unsigned long long>(bench.answers ? bench.body_bytes / bench.answers : 0));
  std::fflush(stdout);
  return failed ? 1 : 0;
}
