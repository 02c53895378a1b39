#include "loadtest/loadgen/upstream_load.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "loadtest/loadgen/push_client_pool.h"
#include "proto/client.pb.h"

namespace push::loadgen {
namespace {

constexpr std::chrono::milliseconds kTick{10};

int64_t steadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string makeUpstreamPayload(uint64_t user, uint64_t seq, int64_t sent_ns, size_t bytes) {
  char tag[96];
  const int n =
      std::snprintf(tag, sizeof tag, "u=%llu s=%llu t=%lld ", static_cast<unsigned long long>(user),
                    static_cast<unsigned long long>(seq), static_cast<long long>(sent_ns));
  std::string out(tag, static_cast<size_t>(n));
  if (out.size() < bytes) out.resize(bytes, '.');
  return out;
}

UpstreamLoad::UpstreamLoad(net::EventLoop& loop, PushClientPool& pool, Options options)
    : loop_(loop), pool_(pool), options_(options) {}

void UpstreamLoad::start() {
  if (started_) return;
  started_ = true;
  start_ns_ = steadyNs();
  client_in_flight_.assign(pool_.size(), 0);
  timer_ = net::PeriodicTimer::create(loop_, [this] { tick(); });
  timer_->start(kTick);
}

void UpstreamLoad::tick() {
  const int64_t now = steadyNs();
  const double elapsed = static_cast<double>(now - start_ns_) / 1e9;
  const double until = std::min(elapsed, options_.seconds);
  const auto due = static_cast<uint64_t>(until * options_.rate);
  const size_t clients = client_in_flight_.size();
  while (sent_ + skipped_ < due) {
    // The next client in turn that is authenticated and under its cap; one lap at most.
    bool sent = false;
    for (size_t tries = 0; tries < clients && !sent; ++tries) {
      const size_t client = next_client_;
      next_client_ = (next_client_ + 1) % clients;
      if (client_in_flight_[client] >= options_.max_in_flight) continue;
      const uint64_t seq = next_seq_;
      if (!pool_.sendUpstream(client, seq,
                              makeUpstreamPayload(options_.first_user + client, seq, now,
                                                  options_.payload_bytes))) {
        continue;
      }
      ++next_seq_;
      ++client_in_flight_[client];
      in_flight_.emplace(seq, InFlight{static_cast<uint32_t>(client), now});
      ++sent_;
      sent = true;
    }
    if (!sent) {
      // No client can take one now: the rest due this tick is skipped (counted, not sent
      // late), without a lap over the clients for each.
      skipped_ = due - sent_;
      break;
    }
  }
  if (elapsed >= options_.seconds) timer_.reset();
}

void UpstreamLoad::onAck(size_t client, const client::UpstreamAck& ack, int64_t now_ns) {
  auto it = in_flight_.find(ack.seq());
  if (it == in_flight_.end() || it->second.client != client) {
    ++unmatched_;
    return;
  }
  if (client_in_flight_[client] > 0) --client_in_flight_[client];
  const int64_t sent_ns = it->second.sent_ns;
  in_flight_.erase(it);
  if (ack.code() == client::ERROR_NONE) {
    ++ok_;
    latency_.record(now_ns - sent_ns);
    return;
  }
  ++errors_;
  std::string name = client::ErrorCode_Name(ack.code());
  if (name.rfind("ERROR_", 0) == 0) name.erase(0, 6);
  for (char& ch : name)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  ++errors_by_code_[name.empty() ? "unknown" : name];
}

std::string UpstreamLoad::errorsByCode() const {
  std::string out;
  for (const auto& [name, n] : errors_by_code_) {
    out += (out.empty() ? "" : ",") + name + ":" + std::to_string(n);
  }
  return out.empty() ? "-" : out;
}

LatencyHistogram UpstreamLoad::takeLatency() {
  LatencyHistogram taken = latency_;
  latency_.reset();
  return taken;
}

}  // namespace push::loadgen
