#pragma once

// A test-only Saver (proto/saver.proto) for the room's tests: a real rpc::Server on
// 127.0.0.1 serving an in-memory implementation of Load, Ack and LoadBroadcasts (Store and
// StoreBroadcast fill it too), with switches to fail calls and to hold Load answers until the
// test releases them. It is not services/saver: no Redis, no load counting, no expiry other
// than what the test stores.
//
// Runs on the test thread's EventLoop. start() listens (on `address`, or a free port);
// stop(done) shuts the server down, after which start() may listen again on the same port
// (saver down, then back). Not thread-safe.

#include <google/protobuf/service.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/rpc/server.h"
#include "proto/saver.pb.h"

namespace push::net {
class EventLoop;
}

namespace push::testing {

class RoomFakeSaver final : public saver::Saver {
 public:
  explicit RoomFakeSaver(net::EventLoop& loop) : loop_(loop) {}
  ~RoomFakeSaver() override;

  Status start(const std::string& address = "127.0.0.1:0");
  // The server is gone when `done` runs (connections closed: calls in flight fail).
  void stop(std::function<void()> done);
  bool running() const { return server_ != nullptr; }
  // "127.0.0.1:port" of the last start().
  const std::string& address() const { return address_; }

  // The user's inbox (stored, not acked), by id.
  void storeMessage(const std::string& user, const Message& message);
  void storeBroadcast(const broadcast::BroadcastMessage& broadcast);
  // Ids still stored for (app, user).
  std::vector<uint64_t> inbox(const std::string& app, const std::string& user) const;

  // Switches. Failing calls answer UNAVAILABLE.
  bool fail_acks = false;
  bool fail_loads = false;
  // Load answers wait until releaseLoads() (the test delivers a live push meanwhile).
  bool hold_loads = false;
  void releaseLoads();
  size_t heldLoads() const { return held_.size(); }

  // What came in.
  std::vector<saver::AckRequest> ack_requests;  // answered OK, in arrival order
  std::vector<saver::LoadRequest> load_requests;
  std::vector<saver::LoadBroadcastsRequest> load_broadcast_requests;
  size_t failed_calls = 0;
  // Every (app, user, id) acked through an answered Ack, in order.
  struct Acked {
    std::string app, user;
    uint64_t id;
    bool operator==(const Acked&) const = default;
  };
  std::vector<Acked> acked;

  // saver::Saver
  void Store(google::protobuf::RpcController* controller, const saver::StoreRequest* request,
             saver::StoreResponse* response, google::protobuf::Closure* done) override;
  void Load(google::protobuf::RpcController* controller, const saver::LoadRequest* request,
            saver::LoadResponse* response, google::protobuf::Closure* done) override;
  void Ack(google::protobuf::RpcController* controller, const saver::AckRequest* request,
           saver::AckResponse* response, google::protobuf::Closure* done) override;
  void StoreBroadcast(google::protobuf::RpcController* controller,
                      const saver::StoreBroadcastRequest* request,
                      saver::StoreBroadcastResponse* response,
                      google::protobuf::Closure* done) override;
  void LoadBroadcasts(google::protobuf::RpcController* controller,
                      const saver::LoadBroadcastsRequest* request,
                      saver::LoadBroadcastsResponse* response,
                      google::protobuf::Closure* done) override;

 private:
  void answerLoad(const saver::LoadRequest& request, saver::LoadResponse* response);

  net::EventLoop& loop_;
  rpc::ServerPtr server_;
  std::string address_;
  // (app, user) -> id -> message
  std::map<std::pair<std::string, std::string>, std::map<uint64_t, Message>> inboxes_;
  std::map<std::string, std::map<uint64_t, broadcast::BroadcastMessage>> broadcasts_;  // by seq
  struct HeldLoad {
    const saver::LoadRequest* request;
    saver::LoadResponse* response;
    google::protobuf::Closure* done;
  };
  std::vector<HeldLoad> held_;
};

}  // namespace push::testing
