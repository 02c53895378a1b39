#include "services/coordinator/coordinator_server.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/base/clock.h"
#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/http/curl_client.h"
#include "common/net/event_loop.h"
#include "services/common/admin_port.h"
#include "services/coordinator/coordinator_service.h"

namespace push::coord {

Result<std::unique_ptr<CoordinatorServer>> CoordinatorServer::create(net::EventLoop& loop,
                                                                     Options options) {
  for (size_t i = 0; i < options.apps.size(); ++i)
    RETURN_IF_ERROR(options.apps[i].validate("apps[" + std::to_string(i) + "]"));
  if (options.event_queue_max == 0 || options.event_batch_max == 0) {
    return invalidArgument("event_queue_max, event_batch_max: not 0");
  }
  std::unique_ptr<CoordinatorServer> s(new CoordinatorServer(loop, std::move(options)));
  http::CurlClient::Options curl = s->options_.curl;
  // A reply over max_reply_bytes fails at the client, before its body is kept (at least 1 KiB
  // so that an events URL's small answer always fits).
  curl.max_body_bytes = std::max<size_t>(s->options_.max_reply_bytes, 1024);
  auto client = http::CurlClient::create(loop, curl);
  if (!client.isOk()) return client.status().withContext("http client");
  s->curl_ = std::move(client).value();
  // Request ids: this instance's start time and pid, then a counter per app.
  const std::string instance =
      "c" + std::to_string(Clock::system().wallMillis()) + "-" + std::to_string(::getpid());
  s->shared_.reset(new AppDispatcher::Shared{
      loop, *s->curl_, s->options_.retry, s->options_.max_reply_bytes, s->options_.event_queue_max,
      s->options_.event_batch_max, s->options_.event_batch_interval, instance});
  s->service_ = std::make_unique<CoordinatorService>(*s->shared_);
  for (const AppSettings& app : s->options_.apps)
    RETURN_IF_ERROR(s->service_->updateApp(app));
  return s;
}

CoordinatorServer::CoordinatorServer(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)) {}

CoordinatorServer::~CoordinatorServer() {
  liveness_.kill();
  admin_.reset();
  grace_timer_.reset();
  rpc_.reset();  // no handler runs after this; the calls still pending are answered next
  service_.reset();
  shared_.reset();
  curl_.reset();
}

Status CoordinatorServer::start() {
  loop_.assertInLoopThread();
  if (started_) return Status(Code::FAILED_PRECONDITION, "coordinator started twice");
  started_ = true;
  rpc_ = rpc::Server::create(loop_, options_.rpc);
  Status st = rpc_->addService(service_.get());
  if (st.isOk()) st = rpc_->start();
  if (!st.isOk()) {
    rpc_.reset();
    return st;
  }
  rpc_address_ = rpc_->address();
  auto admin = service::startAdmin(
      loop_, options_.admin,
      {.health = [this] { return stopping_ ? unavailable("stopping") : Status::ok(); },
       .status_json = [this] { return statusJson(); }});
  if (!admin.isOk()) {
    rpc_.reset();
    return admin.status().withContext("admin");
  }
  admin_ = std::move(admin).value();
  if (admin_) admin_address_ = admin_->address();
  LOG_INFO(Coordinator, "coordinator on {} ({} apps)", rpc_address_.toString(),
           options_.apps.size());
  return Status::ok();
}

void CoordinatorServer::stop(std::function<void()> done) {
  loop_.assertInLoopThread();
  if (stopping_) return;
  stopping_ = true;
  admin_.reset();
  if (!rpc_) {
    service_->removeAll();
    loop_.post(std::move(done));
    return;
  }
  // Webhooks may take longer than the grace: what is still pending then is answered
  // "coordinator stopping", so the server's shutdown is not held up by an app's server.
  grace_timer_ = net::PeriodicTimer::create(loop_, [this] { service_->removeAll(); });
  grace_timer_->start(options_.shutdown_grace, false);
  rpc_.release()->shutdown(options_.shutdown_grace, [this, loop = &loop_, alive = liveness_.token(),
                                                     done = std::move(done)]() mutable {
    if (alive.alive()) {
      grace_timer_.reset();
      service_->removeAll();
    }
    loop->post(std::move(done));
  });
}

std::string CoordinatorServer::statusJson() const {
  JsonWriter w(256);
  w.beginObject();
  w.key("rpc").string(rpc_address_.toString());
  w.key("admin");
  if (admin_address_.port() != 0) {
    w.string(admin_address_.toString());
  } else {
    w.null();
  }
  w.key("stopping").boolean(stopping_);
  service_->writeStatus(w);
  w.endObject();
  return w.take();
}

}  // namespace push::coord
