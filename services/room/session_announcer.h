#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "services/register/register_client.h"

namespace push::net {
class EventLoop;
}

namespace push::room {

struct ClientConn;

// Tells register which sessions this room holds (docs/ARCHITECTURE.md §2, register rebuild): Online
// and Offline changes in batches (RegisterClient), and a RoomHeartbeat every `heartbeat` with the
// session count. A failed batch sets `resync`, so the next heartbeat asks register to pull
// this room's sessions again (Room.ListSessions) instead of staying wrong; a failed heartbeat
// does not (it changed nothing; a register that lost the room pulls it by itself).
//
// Owned by RoomServer; destroy it on the loop thread (its RegisterClient closes its channels).
// Loop-thread only.
class SessionAnnouncer {
 public:
  struct Options {
    reg::RegisterClient::Options register_client;
    std::chrono::milliseconds heartbeat{2'000};
    std::string room_id;
    std::string room_address;  // the RPC address sessions carry (advertised)
  };
  static Result<std::unique_ptr<SessionAnnouncer>> create(net::EventLoop& loop, Options options,
                                                          std::function<size_t()> session_count);
  ~SessionAnnouncer();

  // `sent`: RegisterClient::online's (the register took the session, or the batch failed).
  void online(const ClientConn& c, const std::string& app,
              reg::RegisterClient::OnlineSent sent = nullptr);
  void offline(const ClientConn& c, const std::string& app);
  // Sends the heartbeat when one is due at loop time `now_ms` (call every second or so).
  void tick(int64_t now_ms);
  // A heartbeat now (the first one introduces the room).
  void heartbeat(int64_t now_ms);
  // The register instances changed (register.discover): routes by the new map and, when a
  // slot changed owner, heartbeats at once asking every register to pull this room again, so
  // the new owners learn the sessions they took over. INVALID_ARGUMENT (nothing changes) for a
  // map that does not cover every slot once.
  Status setShards(std::vector<reg::RegisterClient::Shard> shards, int64_t now_ms);
  size_t shardCount() const { return register_->shardCount(); }
  // Heartbeat answers (or failures) received so far, one per shard a heartbeat went to.
  uint64_t heartbeatReplies() const { return heartbeat_replies_; }
  // Sends what is queued now (the last announcements when the room stops) and runs `done` on
  // a later loop turn once register has answered every batch or the batches failed (by their
  // RPC timeout at the latest).
  void flush(std::function<void()> done);

 private:
  SessionAnnouncer(net::EventLoop& loop, Options options, std::function<size_t()> session_count);

  net::EventLoop& loop_;
  Options options_;
  std::function<size_t()> session_count_;
  std::unique_ptr<reg::RegisterClient> register_;
  bool resync_needed_ = false;
  int64_t last_heartbeat_ms_ = 0;
  uint64_t heartbeat_replies_ = 0;
};

}  // namespace push::room
