#pragma once

// A test-only push::saver::Saver on a real rpc::Server on loopback (port 0), in the test's own
// loop: an in-memory inbox per (app, user) and broadcast log per app that follow
// proto/saver.proto (Store idempotent per (message, user), Load oldest first after a position,
// Ack removes, StoreBroadcast numbers each app's broadcasts 1, 2, 3, ... and gives a retried
// message id its first sequence). No TTL, max_loads or limits beyond the request's `limit`.
// Tests make it fail (failWith: every call answers that status, as saver does when Redis is
// down), hold calls (hold: calls wait until release()), stop it (stop(): the port closes) and
// watch the order of calls through onCall. Header-only; link push::proto and push::rpc.
// Loop-thread only.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/base/result.h"
#include "common/net/event_loop.h"
#include "common/rpc/controller.h"
#include "common/rpc/server.h"
#include "proto/saver.pb.h"

namespace push::testing {

class FakeSaver final : public saver::Saver {
 public:
  // Listens on 127.0.0.1:0; address() is "127.0.0.1:<port>".
  static Result<std::unique_ptr<FakeSaver>> start(net::EventLoop& loop) {
    std::unique_ptr<FakeSaver> fake(new FakeSaver(loop));
    RETURN_IF_ERROR(fake->listen());
    return fake;
  }
  ~FakeSaver() override {
    release();
    server_.reset();
  }

  const std::string& address() const { return address_; }
  // Closes the port (calls in flight fail UNAVAILABLE on the client), and listens again on
  // the same port.
  void stop() {
    release();
    server_.reset();
  }
  Status restart() { return listen(address_); }

  // Every call from now on answers `status` (OK: normal again).
  void failWith(Status status) { fail_ = std::move(status); }
  // While held, calls wait (not answered) until release() or hold(false).
  void hold(bool on) {
    hold_ = on;
    if (!on) release();
  }
  void release() {
    auto held = std::move(held_);
    held_.clear();
    for (auto& answer : held)
      answer();
  }
  size_t heldCalls() const { return held_.size(); }

  // Runs for each call as it arrives ("Store", "StoreBroadcast", ...), before it is answered.
  std::function<void(const std::string& method, const google::protobuf::Message& request)> onCall;

  // What was asked and what is kept.
  uint64_t storeCalls() const { return store_calls_; }
  uint64_t broadcastCalls() const { return broadcast_calls_; }
  // Requests of every Store call that was answered OK, in order.
  const std::vector<saver::StoreRequest>& stores() const { return stores_; }
  // Message ids stored for (app, user), in id order.
  std::vector<uint64_t> inbox(const std::string& app, const std::string& user) const {
    std::vector<uint64_t> ids;
    auto it = inboxes_.find({app, user});
    if (it == inboxes_.end()) return ids;
    for (const auto& [id, m] : it->second)
      ids.push_back(id);
    return ids;
  }
  const std::vector<broadcast::BroadcastMessage>& broadcasts(const std::string& app) {
    return logs_[app].messages;
  }

  // saver::Saver
  void Store(google::protobuf::RpcController* c, const saver::StoreRequest* req,
             saver::StoreResponse* resp, google::protobuf::Closure* done) override {
    ++store_calls_;
    answer("Store", c, *req, done, [this, req, resp] {
      stores_.push_back(*req);
      for (const auto& item : req->items()) {
        for (const auto& user : item.users()) {
          auto& inbox = inboxes_[{item.message().app(), user}];
          if (inbox.emplace(item.message().id(), item.message()).second) {
            resp->set_stored(resp->stored() + 1);
          } else {
            resp->set_duplicates(resp->duplicates() + 1);
          }
        }
      }
    });
  }
  void Load(google::protobuf::RpcController* c, const saver::LoadRequest* req,
            saver::LoadResponse* resp, google::protobuf::Closure* done) override {
    answer("Load", c, *req, done, [this, req, resp] {
      auto it = inboxes_.find({req->app(), req->user()});
      if (it == inboxes_.end()) return;
      const uint32_t limit = req->limit() ? req->limit() : 100;
      for (auto m = it->second.upper_bound(req->after_id()); m != it->second.end(); ++m) {
        if (static_cast<uint32_t>(resp->messages_size()) == limit) {
          resp->set_more(true);
          break;
        }
        saver::StoredMessage* out = resp->add_messages();
        *out->mutable_message() = m->second;
        out->set_loads(++loads_[{req->app(), req->user(), m->first}]);
      }
    });
  }
  void Ack(google::protobuf::RpcController* c, const saver::AckRequest* req,
           saver::AckResponse* resp, google::protobuf::Closure* done) override {
    answer("Ack", c, *req, done, [this, req, resp] {
      for (const auto& item : req->items()) {
        auto it = inboxes_.find({item.app(), item.user()});
        if (it == inboxes_.end()) continue;
        for (uint64_t id : item.message_ids())
          resp->set_removed(resp->removed() + static_cast<uint32_t>(it->second.erase(id)));
      }
    });
  }
  void StoreBroadcast(google::protobuf::RpcController* c, const saver::StoreBroadcastRequest* req,
                      saver::StoreBroadcastResponse* resp,
                      google::protobuf::Closure* done) override {
    ++broadcast_calls_;
    answer("StoreBroadcast", c, *req, done, [this, req, resp] {
      Log& log = logs_[req->broadcast().app()];
      for (const auto& m : log.messages) {
        if (m.message_id() == req->broadcast().message_id()) {
          resp->set_sequence(m.sequence());
          return;
        }
      }
      broadcast::BroadcastMessage m = req->broadcast();
      m.set_sequence(++log.latest);
      log.messages.push_back(m);
      resp->set_sequence(m.sequence());
    });
  }
  void LoadBroadcasts(google::protobuf::RpcController* c, const saver::LoadBroadcastsRequest* req,
                      saver::LoadBroadcastsResponse* resp,
                      google::protobuf::Closure* done) override {
    answer("LoadBroadcasts", c, *req, done, [this, req, resp] {
      Log& log = logs_[req->app()];
      resp->set_latest_sequence(log.latest);
      if (req->after_sequence() == 0) return;
      const uint32_t limit = req->limit() ? req->limit() : 100;
      for (const auto& m : log.messages) {
        if (m.sequence() <= req->after_sequence()) continue;
        if (static_cast<uint32_t>(resp->broadcasts_size()) == limit) {
          resp->set_more(true);
          break;
        }
        *resp->add_broadcasts() = m;
      }
    });
  }
  void Stats(google::protobuf::RpcController* c, const saver::StatsRequest* req,
             saver::StatsResponse* resp, google::protobuf::Closure* done) override {
    answer("Stats", c, *req, done, [resp] {
      resp->set_redis_ok(true);
      resp->set_mysql_ok(true);
    });
  }

 private:
  struct Log {
    uint64_t latest = 0;
    std::vector<broadcast::BroadcastMessage> messages;
  };

  explicit FakeSaver(net::EventLoop& loop) : loop_(loop) {}

  Status listen(const std::string& address = "127.0.0.1:0") {
    rpc::Server::Options o;
    o.address = address;
    rpc::ServerPtr server = rpc::Server::create(loop_, o);
    RETURN_IF_ERROR(server->addService(this));
    RETURN_IF_ERROR(server->start());
    address_ = server->address().toString();
    server_ = std::move(server);
    return Status::ok();
  }

  // Runs `work` and answers, or answers failWith's status, or holds the call.
  void answer(const std::string& method, google::protobuf::RpcController* c,
              const google::protobuf::Message& request, google::protobuf::Closure* done,
              std::function<void()> work) {
    if (onCall) onCall(method, request);
    auto* controller = static_cast<rpc::Controller*>(c);
    auto run = [this, controller, done, work = std::move(work)] {
      if (!fail_.isOk()) {
        controller->setStatus(fail_);
      } else {
        work();
      }
      done->Run();
    };
    if (hold_) {
      held_.push_back(std::move(run));
      return;
    }
    run();
  }

  net::EventLoop& loop_;
  rpc::ServerPtr server_;
  std::string address_;
  Status fail_;
  bool hold_ = false;
  std::vector<std::function<void()>> held_;
  uint64_t store_calls_ = 0;
  uint64_t broadcast_calls_ = 0;
  std::vector<saver::StoreRequest> stores_;
  std::map<std::pair<std::string, std::string>, std::map<uint64_t, Message>> inboxes_;
  std::map<std::tuple<std::string, std::string, uint64_t>, uint32_t> loads_;
  std::map<std::string, Log> logs_;
};

}  // namespace push::testing
