#pragma once

// Helpers shared by the register service and client tests: a fake Room (ListSessions only,
// paginated, with one page that can be held back), a Register wrapper that counts (and can
// hold) calls, and a blocking-looking RPC helper that drives the loop.

#include <google/protobuf/service.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/net/event_loop.h"
#include "common/rpc/controller.h"
#include "proto/register.pb.h"
#include "proto/room.pb.h"
#include "services/register/slot_map.h"

namespace push::reg::testing {

namespace pb = google::protobuf;

inline Session makeSession(const std::string& app, const std::string& user,
                           const std::string& device, const std::string& room_id,
                           const std::string& room_address, uint64_t conn_id,
                           int64_t since_ms = 1000) {
  Session s;
  s.set_app(app);
  s.set_user(user);
  s.set_device(device);
  s.set_room_id(room_id);
  s.set_room_address(room_address);
  s.set_conn_id(conn_id);
  s.set_since_ms(since_ms);
  return s;
}

inline OfflineSession offlineOf(const Session& s) {
  OfflineSession o;
  o.set_app(s.app());
  o.set_user(s.user());
  o.set_room_id(s.room_id());
  o.set_conn_id(s.conn_id());
  return o;
}

inline UserKey userKey(const std::string& app, const std::string& user) {
  UserKey k;
  k.set_app(app);
  k.set_user(user);
  return k;
}

// `count` users "<prefix><n>" of `app` whose slot is in (or, with inside = false, outside)
// `slots`.
inline std::vector<std::string> usersInSlots(const std::string& app, const SlotSet& slots,
                                             size_t count, const std::string& prefix = "user",
                                             bool inside = true) {
  std::vector<std::string> users;
  for (int i = 0; users.size() < count; ++i) {
    std::string user = prefix + std::to_string(i);
    if (slots.contains(slotOf(app, user)) == inside) users.push_back(user);
  }
  return users;
}

// Calls `method` on `stub` and runs the loop until it completes (at most 5 s). The
// controller's status, or TIMEOUT if the loop gave up.
template <typename Stub, typename Req, typename Resp>
Status callSync(net::EventLoop& loop, Stub& stub,
                void (Stub::*method)(pb::RpcController*, const Req*, Resp*, pb::Closure*),
                const Req& request, Resp* response) {
  rpc::Controller controller;
  bool done = false;
  (stub.*method)(&controller, &request, response, rpc::newCallback([&done] { done = true; }));
  if (!loop.runUntil([&] { return done; }, std::chrono::seconds(5))) {
    ADD_FAILURE() << "RPC did not complete";
    return Status(Code::TIMEOUT, "no reply");
  }
  return controller.status();
}

// A room that only answers ListSessions: its `sessions`, `limit` per page, filtered by the
// requested slots like the real room. A page asked for at `hold_cursor` is held until
// release() (to let a test interleave Online/Offline with a pull).
class FakeRoom final : public room::Room {
 public:
  std::vector<Session> sessions;
  int list_calls = 0;
  room::ListSessionsRequest last_request;
  std::optional<uint64_t> hold_cursor;
  // The next this many calls fail with UNAVAILABLE.
  int fail_calls = 0;

  void ListSessions(pb::RpcController* controller, const room::ListSessionsRequest* request,
                    room::ListSessionsResponse* response, pb::Closure* done) override {
    ++list_calls;
    last_request = *request;
    if (fail_calls > 0) {
      --fail_calls;
      static_cast<rpc::Controller*>(controller)->setStatus(unavailable("fake room: failing"));
      done->Run();
      return;
    }
    if (hold_cursor && request->cursor() == *hold_cursor && !held_) {
      hold_cursor.reset();
      held_ = Held{request, response, done};
      return;
    }
    answer(*request, response);
    done->Run();
  }

  bool holding() const { return held_.has_value(); }
  // Answers the held page (with the sessions as they are now).
  void release() {
    ASSERT_TRUE(held_.has_value());
    Held h = *held_;
    held_.reset();
    answer(*h.request, h.response);
    h.done->Run();
  }

 private:
  struct Held {
    const room::ListSessionsRequest* request;
    room::ListSessionsResponse* response;
    pb::Closure* done;
  };
  void answer(const room::ListSessionsRequest& request, room::ListSessionsResponse* response) {
    SlotSet slots;
    for (uint32_t s : request.slots())
      slots.add(s);
    const size_t limit = request.limit() ? request.limit() : 1000;
    size_t i = static_cast<size_t>(request.cursor());
    for (; i < sessions.size() && static_cast<size_t>(response->sessions_size()) < limit; ++i) {
      const Session& s = sessions[i];
      if (request.slots_size() > 0 && !slots.contains(slotOf(s.app(), s.user()))) continue;
      *response->add_sessions() = s;
    }
    response->set_next_cursor(i);
    response->set_done(i >= sessions.size());
  }
  std::optional<Held> held_;
};

// Forwards to another Register, counting calls and their sizes. Lookups can be held back
// (answered by the inner service at once, completed only on releaseLookups()).
class CountingRegister final : public Register {
 public:
  explicit CountingRegister(Register& inner) : inner_(inner) {}

  int online_calls = 0, offline_calls = 0, lookup_calls = 0, heartbeat_calls = 0;
  std::vector<int> online_sizes, offline_sizes, lookup_sizes;
  bool hold_lookups = false;
  bool hold_online = false;  // applied at once, answered on releaseOnline()

  void Online(pb::RpcController* c, const OnlineRequest* req, OnlineResponse* resp,
              pb::Closure* done) override {
    ++online_calls;
    online_sizes.push_back(req->sessions_size());
    if (!hold_online) return inner_.Online(c, req, resp, done);
    inner_.Online(c, req, resp, rpc::newCallback([] {}));
    held_online_.push_back(done);
  }
  void Offline(pb::RpcController* c, const OfflineRequest* req, OfflineResponse* resp,
               pb::Closure* done) override {
    ++offline_calls;
    offline_sizes.push_back(req->sessions_size());
    inner_.Offline(c, req, resp, done);
  }
  void Lookup(pb::RpcController* c, const LookupRequest* req, LookupResponse* resp,
              pb::Closure* done) override {
    ++lookup_calls;
    lookup_sizes.push_back(req->users_size());
    if (!hold_lookups) return inner_.Lookup(c, req, resp, done);
    inner_.Lookup(c, req, resp, rpc::newCallback([] {}));
    held_.push_back(done);
  }
  void RoomHeartbeat(pb::RpcController* c, const RoomHeartbeatRequest* req,
                     RoomHeartbeatResponse* resp, pb::Closure* done) override {
    ++heartbeat_calls;
    inner_.RoomHeartbeat(c, req, resp, done);
  }

  size_t heldLookups() const { return held_.size(); }
  size_t heldOnline() const { return held_online_.size(); }
  void releaseOnline() {
    auto held = std::move(held_online_);
    held_online_.clear();
    for (auto* d : held)
      d->Run();
  }
  void releaseLookups() {
    auto held = std::move(held_);
    held_.clear();
    for (auto* d : held)
      d->Run();
  }

 private:
  Register& inner_;
  std::vector<pb::Closure*> held_;
  std::vector<pb::Closure*> held_online_;
};

}  // namespace push::reg::testing
