#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/status.h"
#include "common/net/conn_id.h"
#include "proto/room.pb.h"

namespace push::room {

class AppTable;
class ConnectionTable;
class SessionAnnouncer;
class UpstreamForwarder;
struct ClientConn;

// The sessions of a room: a session is one app carried by one authenticated connection (Auth
// opens the first, Bind adds more). Keeps the index (app, user) -> connections that Deliver and
// Kick use, the caps on connections per user and per device, and tells register (through the
// SessionAnnouncer, when there is one) about every session that opens or closes.
//
// The index is a hash map from (app, user) to that user's connection ids. Every list is at
// most `max_per_user` long, so removing from it is bounded however many connections one
// token opens, and a push to a user writes to at most that many connections.
//
// Loop-thread only. Owned by RoomServer, next to the ConnectionTable it reads.
class Sessions {
 public:
  enum class LimitPolicy : uint8_t {
    KickOldest,    // the new connection wins; the oldest one over the cap gets Kick
    RefuseNewest,  // the new connection gets ERROR_TOO_MANY_CONNECTIONS
  };
  struct Limits {
    // Connections of one (app, user) on this room. Default 32, at least 1.
    uint32_t max_per_user = 32;
    // Connections of one (app, user, device): a device reconnecting make-before-break needs
    // two for a moment. Default 4, at least 1.
    uint32_t max_per_device = 4;
    LimitPolicy policy = LimitPolicy::KickOldest;
  };

  Sessions(const AppTable& apps, ConnectionTable& table, Limits limits);
  void setAnnouncer(SessionAnnouncer* announcer) { announcer_ = announcer; }
  // Runs (with the connection's id and the app) once register has answered the Online batch
  // of a session opened here (OK: from then on center's lookups find it; or failed). Offline
  // replay loads the user's stored messages then (OfflineReplay::registered). Null: none.
  using OnRegistered = std::function<void(net::ConnId id, uint16_t app)>;
  void setOnRegistered(OnRegistered fn) { on_registered_ = std::move(fn); }
  // With a coordinator: every session opened or closed is also an online/offline event for
  // the app (UpstreamForwarder::sessionEvent). Null: none.
  void setUpstream(UpstreamForwarder* upstream) { upstream_ = upstream; }

  // What to do before `c` (authenticated as user/device) opens a session of `app`.
  struct Admission {
    bool refuse = false;             // RefuseNewest and a cap is reached: `why` says which
    std::vector<net::ConnId> evict;  // KickOldest: close these first (oldest first)
    std::string why;
  };
  Admission admit(const ClientConn& c, uint16_t app) const;

  // Opens / closes the session (app of c); the caller keeps c.apps in step.
  void open(ClientConn& c, uint16_t app);
  void close(ClientConn& c, uint16_t app);
  // Closes every session of `c` (it is closing) and clears c.apps.
  void closeAll(ClientConn& c);

  // The connections of (app, user) here; empty when none. Valid until the next change.
  std::span<const net::ConnId> connectionsOf(uint16_t app, std::string_view user) const;

  size_t count() const { return count_; }
  size_t users() const { return index_.size(); }

  // ListSessions: a page of sessions from slot `request.cursor()`, filtered by register slots.
  Status list(const ListSessionsRequest& request, const std::string& room_id,
              const std::string& room_address, ListSessionsResponse* response) const;

 private:
  const std::string& keyOf(uint16_t app, std::string_view user) const;

  const AppTable& apps_;
  ConnectionTable& table_;
  const Limits limits_;
  SessionAnnouncer* announcer_ = nullptr;  // destroyed before this (its callbacks use `this`)
  OnRegistered on_registered_;
  UpstreamForwarder* upstream_ = nullptr;
  // 2 bytes of app number + user -> connection ids (unordered; removal swaps with the last).
  std::unordered_map<std::string, std::vector<net::ConnId>> index_;
  size_t count_ = 0;
  mutable std::string key_;  // scratch for lookups
};

}  // namespace push::room
