#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/net/inet_address.h"
#include "common/rpc/server.h"
#include "services/register/register_options.h"
#include "services/register/register_service.h"

namespace push::net {
class EventLoop;
}

namespace push::reg {

// One register instance (docs/ARCHITECTURE.md §2): the Register RPC service (RegisterService: the
// session table of its slots, room liveness, rebuild from the rooms) on its RPC listener, and the
// admin HTTP port (/healthz, /metrics, /status) when options.admin.address is set.
//
// Ownership: create(), start(); stop(done) stops gracefully and runs `done` once everything is
// closed; destroy the RegisterServer after that. Destroying it without stop() closes at once
// (calls in flight are answered UNAVAILABLE or dropped). Loop-thread only.
class RegisterServer {
 public:
  using Options = RegisterOptions;

  // Checks the options built in code (INVALID_ARGUMENT naming the field); no socket yet.
  static Result<std::unique_ptr<RegisterServer>> create(net::EventLoop& loop, Options options);
  ~RegisterServer();
  RegisterServer(const RegisterServer&) = delete;
  RegisterServer& operator=(const RegisterServer&) = delete;

  // Binds the RPC listener, then the admin port. Errors: INVALID_ARGUMENT for a malformed
  // address, UNAVAILABLE when one cannot be bound (then nothing stays open; stop() is still
  // allowed). Call once.
  Status start();

  // The bound RPC address (the real port when port 0 was asked for); valid after start().
  const net::InetAddress& address() const { return rpc_address_; }
  // The bound admin address; unset (port 0) without an admin port.
  const net::InetAddress& adminAddress() const { return admin_address_; }

  // Graceful stop: the admin port closes, the RPC listener stops accepting, calls that arrive
  // now are answered UNAVAILABLE (not executed: callers retry elsewhere), calls already
  // running get options.shutdown_grace to finish and have their responses written, then every
  // connection closes and the service stops its timer and pulls. `done` runs on the loop
  // thread after that (posted; never inside stop()). Call once; later calls are ignored.
  void stop(std::function<void()> done);

  // /status: {"rpc":"host:port","admin":"host:port"|null,"stopping":b, then the service's
  // members: "sessions","users","slots","rooms":[...]}. Valid JSON whatever the room ids
  // received over RPC hold (JsonWriter).
  std::string statusJson() const;

  RegisterService& service() { return *service_; }
  const Options& options() const { return options_; }

 private:
  RegisterServer(net::EventLoop& loop, Options options);

  net::EventLoop& loop_;
  const Options options_;
  std::unique_ptr<RegisterService> service_;
  rpc::ServerPtr rpc_;  // null before start() and once stopping
  http::HttpServerPtr admin_;
  std::unique_ptr<service::DiscoveryLink> discovery_;  // null without ZooKeeper
  std::string instance_id_;                            // in ZooKeeper; empty without
  net::InetAddress rpc_address_;
  net::InetAddress admin_address_;
  bool started_ = false;
  bool stopping_ = false;
  Liveness liveness_;  // the RPC server's shutdown callback checks it
};

}  // namespace push::reg
