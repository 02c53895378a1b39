#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "proto/room.pb.h"

namespace push::reg {
class RegisterClient;
}

namespace push::service {

class RoomPool;

// Kicks a user off the platform: register Lookup of (app, user), then Room.Kick to every room
// holding a session of the user (of `device` only, when the request names one); the rooms send
// the client a Kick frame and close the connection. Coordinator serves Coordinator.Kick with
// it; center uses it when it has no coordinator.
//
// Ownership: `registry` and `rooms` are borrowed and outlive the kicker. Callbacks of calls
// still in flight when the kicker is destroyed do nothing. Loop-thread only.
class UserKicker {
 public:
  // The longest reason a room accepts (RoomRpcService::kMaxKickReasonBytes).
  static constexpr size_t kMaxReasonBytes = 256;
  struct Outcome {
    uint32_t kicked = 0;        // connections the rooms closed
    uint32_t rooms = 0;         // rooms asked
    uint32_t rooms_failed = 0;  // rooms that did not answer (or had a bad address)
  };
  // `status` is not OK only when register could not be asked (nothing was kicked then).
  // Never runs inside kick().
  using Done = std::function<void(const Status& status, const Outcome& outcome)>;

  UserKicker(reg::RegisterClient& registry, RoomPool& rooms);
  ~UserKicker();
  UserKicker(const UserKicker&) = delete;
  UserKicker& operator=(const UserKicker&) = delete;

  // `request.app` and `request.user` must be set (callers validate what comes from outside).
  void kick(const room::KickRequest& request, Done done);

 private:
  reg::RegisterClient& registry_;
  RoomPool& rooms_;
  Liveness liveness_;
};

}  // namespace push::service
