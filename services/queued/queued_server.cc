#include "services/queued/queued_server.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/net/stream_filter.h"
#include "common/queue/channel.h"
#include "common/queue/codec/tls_codec.h"
#include "common/queue/queue_engine.h"
#include "common/queue/topic.h"
#include "services/queued/http_api.h"
#include "services/queued/lookupd_registrar.h"
#include "services/queued/protocol_v2.h"

namespace push::queued {

namespace {
constexpr std::chrono::milliseconds kTickInterval{10};
constexpr int64_t kProtocolTickMs = 100;

// nsqd's plain HTTP server under --tls-required=true answers every request (known path or not)
// with this, before routing; the port is the HTTPS listener's real one, 0 when there is none.
http::HttpResponse tlsRequiredRefusal(int https_port) {
  http::HttpResponse response(403);
  response.setHeader("X-Nsq-Content-Type", "nsq; version=1.0");
  // nsqd formats it by hand: note the spaces, unlike its other JSON answers.
  response.setBody(
      R"({"message": "TLS_REQUIRED", "https_port": )" + std::to_string(https_port) + "}",
      "application/json; charset=utf-8");
  return response;
}

// The HTTPS port's filter: a TLS session, and Go's answer to a client that speaks plain HTTP
// to it (net/http's tlsRecordHeaderLooksLikeHTTP): when the first five bytes are one of Go's
// method prefixes, the connection gets nsqd's "400 Bad Request" text instead of a TLS alert,
// then closes. Otherwise the bytes go to TLS unchanged.
class HttpsFilter final : public net::StreamFilter {
 public:
  explicit HttpsFilter(std::shared_ptr<queue::TlsContext> context)
      : tls_(queue::TlsCodec::create(std::move(context))) {}

  Status decode(std::string_view in, std::string* plain, std::string* to_peer) override {
    if (!error_.isOk()) return error_;
    if (head_.size() < kRecordHeader) {  // still deciding: hold the first five bytes
      const size_t take = std::min(in.size(), kRecordHeader - head_.size());
      head_.append(in.substr(0, take));
      in.remove_prefix(take);
      if (head_.size() < kRecordHeader) return Status::ok();
      for (std::string_view method : {"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"}) {
        if (head_ == method) {
          to_peer->append(
              "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
          error_ = Status(Code::INVALID_ARGUMENT, "plain HTTP request on the HTTPS port");
          return error_;
        }
      }
      RETURN_IF_ERROR(tls_->decode(head_, plain, to_peer));
    }
    return in.empty() ? Status::ok() : tls_->decode(in, plain, to_peer);
  }
  Status encode(std::string_view plain, std::string* to_peer) override {
    return tls_->encode(plain, to_peer);
  }

 private:
  static constexpr size_t kRecordHeader = 5;
  std::unique_ptr<queue::TlsCodec> tls_;
  std::string head_;  // the first bytes, up to a TLS record header's length
  Status error_;
};
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
  RETURN_IF_ERROR(protocol_->loadTls());

  http::HttpServer::Options http_options;
  http_options.address = options_.http_address;
  http_options.max_body_bytes =
      std::max<uint32_t>(options_.max_body_size, options_.queue.max_msg_size);
  http::MiddlewareChain plain_middleware;
  if (options_.tls_required == 2) {  // "true"; "tcp-https" (1) leaves plain HTTP open, as nsqd
    plain_middleware.add([this](http::HttpRequest&, http::HttpResponder& responder) {
      responder.respond(tlsRequiredRefusal(httpsAddress().port()));
    });
  }
  ASSIGN_OR_RETURN(http_, http::HttpServer::listen(loop_, http_options, makeHttpApi(*this),
                                                   std::move(plain_middleware)));
  // HTTPS as nsqd: only with a certificate and an address; the same routes (a router of their
  // own: a server owns its router) over the TLS context protocol V2 built, so the certificate,
  // --tls-min-version and --tls-client-auth-policy apply to both ports.
  if (std::shared_ptr<queue::TlsContext> tls = protocol_->tlsContext();
      tls && !options_.https_address.empty()) {
    http::HttpServer::Options https_options = http_options;
    https_options.address = options_.https_address;
    https_options.connection_filter = [tls] { return std::make_unique<HttpsFilter>(tls); };
    ASSIGN_OR_RETURN(https_, http::HttpServer::listen(loop_, https_options, makeHttpApi(*this),
                                                      http::MiddlewareChain()));
  }
  // TCP last, so that once it accepts every port does (nsqd binds all of its listeners before
  // it serves any): whoever waits for the TCP port to start (tests, scripts) can use them all.
  RETURN_IF_ERROR(protocol_->listen(options_.tcp_address));

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
  LOG_INFO(Queue, "queued: TCP on {}, HTTP on {}{}{}, data in {}", tcpAddress().toString(),
           httpAddress().toString(), https_ ? ", HTTPS on " : "",
           https_ ? httpsAddress().toString() : "", options_.queue.data_path);
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
  https_.reset();
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

net::InetAddress QueuedServer::httpsAddress() const {
  return https_ ? https_->address() : net::InetAddress();
}

int64_t QueuedServer::uptimeMs() const {
  return loop_.nowMs() - start_ms_;
}

}  // namespace push::queued
