#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/config.h"
#include "common/base/id_generator.h"
#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/rpc/channel.h"
#include "services/center/rate_limiter.h"
#include "services/center/room_pool.h"
#include "services/register/register_client.h"

namespace push::config {
class CenterConfig;
}

namespace push::center {

struct CenterOptions {
  struct App {
    std::string name;
    std::vector<std::string> api_keys;
    double rate_per_s = 1000;
    double burst = 2000;
  };
  http::HttpServer::Options http;
  std::vector<App> apps;
  reg::RegisterClient::Options register_client;
  rpc::Channel::Options room_channel;
  uint32_t node_id = 0;
  uint32_t max_targets = 10'000;
  uint32_t max_payload_bytes = 4096;
  // This process's own /healthz, /metrics, /status ("" = none; the API port has them too).
  std::string admin_address;

  static Result<CenterOptions> fromConfig(const config::CenterConfig& config,
                                          const ConfigFile* file);
};

// The operator HTTP API (DESIGN.md 2, center):
//   POST /v1/push                              push to users or devices of an app
//   GET  /v1/apps/{app}/users/{user}           the user's online sessions
//   POST /v1/apps/{app}/users/{user}/kick      close the user's sessions (optional device)
// plus /healthz, /metrics and /status (also on a separate admin port when admin_address is
// set: the one that answers for this process when several workers share the API port). Every
// /v1 call needs `Authorization: Bearer <api key>`
// of the app; each app has a token-bucket rate limit (429 with Retry-After beyond it).
//
// A push: validate -> message id (IdGenerator, node_id) -> register Lookup (one batched call
// per register shard) -> group targets by room -> one Room.Deliver per room -> per-target
// outcome. Users not online are reported "offline" (stored delivery comes with saver).
//
// Ownership: create(), start(); stop(done) closes the HTTP server and every channel, then
// runs `done`. Loop-thread only.
class CenterServer {
 public:
  static Result<std::unique_ptr<CenterServer>> create(net::EventLoop& loop, CenterOptions options);
  ~CenterServer();

  Status start();
  const net::InetAddress& address() const { return address_; }
  // The admin port's address; unset (port 0) without admin_address.
  const net::InetAddress& adminAddress() const { return admin_address_; }
  void stop(std::function<void()> done);
  std::string statusJson() const;

 private:
  struct AppState;
  struct PushCall;
  CenterServer(net::EventLoop& loop, CenterOptions options);

  // Finds the app and checks the bearer key: answers 401/403/404 itself and returns null on
  // failure.
  AppState* authorize(const std::string& app, http::HttpRequest& req, http::HttpResponder& r);
  bool rateLimited(AppState& app, http::HttpResponder& r);

  void handlePush(http::HttpRequest& req, http::HttpResponder r);
  void handleGetUser(http::HttpRequest& req, http::HttpResponder r);
  void handleKick(http::HttpRequest& req, http::HttpResponder r);
  void deliver(std::shared_ptr<PushCall> call);
  void flushDeliveries();
  void finishPush(std::shared_ptr<PushCall> call);

  net::EventLoop& loop_;
  CenterOptions options_;
  std::vector<std::unique_ptr<AppState>> apps_;
  std::unique_ptr<IdGenerator> ids_;
  std::unique_ptr<reg::RegisterClient> register_;
  std::unique_ptr<RoomPool> rooms_;
  http::HttpServer* http_ = nullptr;
  http::HttpServer* admin_ = nullptr;
  net::InetAddress address_;
  net::InetAddress admin_address_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  uint64_t pushes_ = 0;
  // Deliveries of this loop turn, per room address: one DeliverBatch each before the loop
  // waits for I/O.
  struct RoomBatch;
  std::unordered_map<std::string, std::unique_ptr<RoomBatch>> pending_deliveries_;
  bool deliver_flush_scheduled_ = false;
};

}  // namespace push::center
