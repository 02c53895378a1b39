#include "loadtest/loadgen/broadcast_receivers.h"

#include <sys/resource.h>

#include <algorithm>

#include "common/net/event_loop.h"
#include "loadtest/loadgen/broadcast_payload.h"
#include "loadtest/loadgen/push_client_pool.h"
#include "loadtest/loadgen/raw_client_pool.h"
#include "loadtest/loadgen/redis_client_pool.h"

namespace push::loadgen {
namespace {

constexpr std::chrono::milliseconds kTick{100};

double cpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int64_t steadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

BroadcastReceivers::BroadcastReceivers(net::EventLoop& loop, Options options)
    : loop_(loop),
      options_(std::move(options)),
      tally_(options_.connect.count, options_.max_broadcasts) {}

BroadcastReceivers::~BroadcastReceivers() = default;

void BroadcastReceivers::start(OnSettled on_settled, OnRound on_round) {
  on_round_ = std::move(on_round);
  switch (options_.kind) {
    case Kind::Push: {
      PushClientPool::Options o;
      o.connect = options_.connect;
      o.app = options_.app;
      o.secret = options_.secret;
      o.user_prefix = options_.user_prefix;
      o.first_user = options_.first_user;
      push_ = std::make_unique<PushClientPool>(loop_, std::move(o));
      push_->setOnRawFrame([this](size_t client, std::string_view frame, int64_t read_ns) {
        return onPushFrame(client, frame, read_ns);
      });
      push_->setOnSettled(std::move(on_settled));
      push_->start();
      break;
    }
    case Kind::Redis: {
      RedisClientPool::Options o;
      o.connect = options_.connect;
      o.channel = options_.channel;
      redis_ = std::make_unique<RedisClientPool>(loop_, std::move(o));
      redis_->setOnMessage([this](size_t client, std::string_view payload, int64_t read_ns) {
        tally_.receipt(client, payload, read_ns);
      });
      redis_->setOnSettled(std::move(on_settled));
      redis_->start();
      break;
    }
    case Kind::Raw:
      raw_ = std::make_unique<RawClientPool>(loop_, options_.connect);
      raw_->setOnFrame([this](size_t client, std::string_view frame, int64_t read_ns) {
        tally_.receipt(client, frame, read_ns);
      });
      raw_->setOnSettled(std::move(on_settled));
      raw_->start();
      break;
  }
  cpu_at_round_start_ = cpuSeconds();
  timer_ = net::PeriodicTimer::create(loop_, [this] { onTick(); });
  timer_->start(kTick);
}

bool BroadcastReceivers::onPushFrame(size_t client, std::string_view frame, int64_t read_ns) {
  PushView push;
  if (!decodePushFrame(frame, &push) || push.broadcast_seq == 0) return false;  // not ours
  tally_.receipt(client, push.payload, read_ns);
  return push.qos == 0;  // QoS 1: the pool parses it too, and acks it
}

void BroadcastReceivers::onTick() {
  const auto quiet_ns = std::chrono::nanoseconds(options_.quiet).count();
  const int64_t now = steadyNs();
  if (options_.await_request) {
    if (end_requested_ns_ == 0) return;
    if (now - std::max(end_requested_ns_, tally_.lastReceiptNs()) >= quiet_ns) endRound();
    return;
  }
  if (tally_.receipts() > 0 && now - tally_.lastReceiptNs() >= quiet_ns) endRound();
}

void BroadcastReceivers::requestEndOfRound() {
  if (end_requested_ns_ == 0) end_requested_ns_ = steadyNs();
}

void BroadcastReceivers::endRound() {
  end_requested_ns_ = 0;
  ++round_;
  if (!options_.report_prefix.empty()) {
    report_.reset(std::fopen((options_.report_prefix + "." + std::to_string(round_)).c_str(), "w"));
  }
  std::string line = "round=" + std::to_string(round_) +
                     " clients=" + std::to_string(options_.connect.count) + " " +
                     tally_.endRound(report_.get());
  report_.reset();
  const double cpu = cpuSeconds();
  char tail[96];
  std::snprintf(tail, sizeof tail, " lost_clients=%zu loadgen_cpu_s=%.3f", lost(),
                cpu - cpu_at_round_start_);
  cpu_at_round_start_ = cpu;
  line += tail;
  if (on_round_) on_round_(line);
}

void BroadcastReceivers::close() {
  timer_.reset();
  if (push_) push_->close();
  if (redis_) redis_->close();
  if (raw_) raw_->close();
}

size_t BroadcastReceivers::lost() const {
  if (push_) return push_->lost();
  if (redis_) return redis_->lost();
  if (raw_) return raw_->lost();
  return 0;
}

}  // namespace push::loadgen
