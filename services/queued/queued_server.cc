#include "services/queued/queued_server.h"

#include <chrono>
#include <utility>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/queue/channel.h"
#include "common/queue/queue_engine.h"
#include "common/queue/topic.h"
#include "services/queued/http_api.h"
#include "services/queued/lookupd_registrar.h"
#include "services/queued/protocol_v2.h"

namespace push::queued {

namespace {
constexpr std::chrono::milliseconds kTickInterval{10};
constexpr int64_t kProtocolTickMs = 100;
}  // namespace

Result<std::unique_ptr<QueuedServer>> QueuedServer::create(net::EventLoop& loop,
                                                           QueuedOptions options) {
  return std::unique_ptr<QueuedServer>(new QueuedServer(loop, std::move(options)));
}

QueuedServer::QueuedServer(net::EventLoop& loop, QueuedOptions options)
    : loop_(loop), options_(std::move(options)) {
  if (options_.queue.data_path.empty()) options_.queue.data_path = ".";
  engine_ = std::make_unique<queue::QueueEngine>(options_.queue, Clock::system());
  protocol_ = std::make_unique<ProtocolV2>(loop_, *engine_, options_);
}

QueuedServer::~QueuedServer() {
  if (!stopped_) (void)stop();
}

Status QueuedServer::start() {
  start_time_s_ = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  start_ms_ = loop_.nowMs();
  RETURN_IF_ERROR(engine_->load());
  RETURN_IF_ERROR(protocol_->listen(options_.tcp_address));

  http::HttpServer::Options http_options;
  http_options.address = options_.http_address;
  http_options.max_body_bytes =
      std::max<uint32_t>(options_.max_body_size, options_.queue.max_msg_size);
  ASSIGN_OR_RETURN(http_, http::HttpServer::listen(loop_, http_options, makeHttpApi(*this),
                                                   http::MiddlewareChain()));

  LookupdRegistrar::Identity identity;
  identity.broadcast_address = options_.broadcast_address;
  identity.hostname = options_.broadcast_address;
  identity.tcp_port =
      options_.broadcast_tcp_port != 0 ? options_.broadcast_tcp_port : protocol_->address().port();
  identity.http_port =
      options_.broadcast_http_port != 0 ? options_.broadcast_http_port : http_->address().port();
  registrar_ = std::make_unique<LookupdRegistrar>(loop_, identity, [this] {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& [name, topic] : engine_->topics()) {
      if (topic->channels().empty()) pairs.emplace_back(name, "");
      for (const auto& [channel_name, channel] : topic->channels()) {
        pairs.emplace_back(name, channel_name);
      }
    }
    return pairs;
  });
  engine_->setListener(
      queue::QueueEngine::Listener{[this](const std::string& topic, const std::string& channel) {
                                     registrar_->registered(topic, channel);
                                   },
                                   [this](const std::string& topic, const std::string& channel) {
                                     registrar_->unregistered(topic, channel);
                                   }});
  registrar_->setAddresses(options_.lookupd_tcp_addresses);

  tick_timer_ = net::PeriodicTimer::create(loop_, [this] { onTick(); });
  tick_timer_->start(kTickInterval);
  sync_timer_ = net::PeriodicTimer::create(loop_, [this] {
    Status status = engine_->syncDisks();
    if (!status.isOk()) LOG_ERROR(Queue, "disk sync failed: {}", status.toString());
  });
  sync_timer_->start(std::chrono::milliseconds(std::max<int64_t>(options_.sync_timeout_ms, 1)));
  LOG_INFO(Queue, "queued: TCP on {}, HTTP on {}, data in {}", tcpAddress().toString(),
           httpAddress().toString(), options_.queue.data_path);
  return Status::ok();
}

void QueuedServer::onTick() {
  engine_->tick();
  int64_t now = loop_.nowMs();
  if (now - last_protocol_tick_ms_ >= kProtocolTickMs) {
    last_protocol_tick_ms_ = now;
    protocol_->tick(now);
  }
}

Status QueuedServer::stop() {
  if (stopped_) return Status::ok();
  stopped_ = true;
  tick_timer_.reset();
  sync_timer_.reset();
  http_.reset();
  registrar_.reset();
  protocol_->close();
  Status status = engine_->close();
  if (!status.isOk()) LOG_ERROR(Queue, "queued stop: {}", status.toString());
  return status;
}

net::InetAddress QueuedServer::tcpAddress() const {
  return protocol_->address();
}

net::InetAddress QueuedServer::httpAddress() const {
  return http_ ? http_->address() : net::InetAddress();
}

int64_t QueuedServer::uptimeMs() const {
  return loop_.nowMs() - start_ms_;
}

}  // namespace push::queued
