#include "services/room/session_announcer.h"

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"
#include "services/room/client_conn.h"

namespace push::room {

Result<std::unique_ptr<SessionAnnouncer>> SessionAnnouncer::create(
    net::EventLoop& loop, Options options, std::function<size_t()> session_count) {
  std::unique_ptr<SessionAnnouncer> a(
      new SessionAnnouncer(loop, std::move(options), std::move(session_count)));
  ASSIGN_OR_RETURN(a->register_, reg::RegisterClient::create(loop, a->options_.register_client));
  a->register_->setOnBatchFailed(
      [a = a.get()](size_t, const Status&) { a->resync_needed_ = true; });
  return a;
}

SessionAnnouncer::SessionAnnouncer(net::EventLoop& loop, Options options,
                                   std::function<size_t()> session_count)
    : loop_(loop), options_(std::move(options)), session_count_(std::move(session_count)) {}

SessionAnnouncer::~SessionAnnouncer() = default;

void SessionAnnouncer::online(const ClientConn& c, const std::string& app,
                              reg::RegisterClient::OnlineSent sent) {
  Session s;
  s.set_app(app);
  s.set_user(c.user);
  s.set_device(c.device);
  s.set_room_id(options_.room_id);
  s.set_room_address(options_.room_address);
  s.set_conn_id(c.tcp->id());
  s.set_since_ms(c.since_ms);
  register_->online(std::move(s), std::move(sent));
}

void SessionAnnouncer::offline(const ClientConn& c, const std::string& app) {
  reg::OfflineSession s;
  s.set_app(app);
  s.set_user(c.user);
  s.set_room_id(options_.room_id);
  s.set_conn_id(c.tcp->id());
  register_->offline(std::move(s));
}

void SessionAnnouncer::tick(int64_t now_ms) {
  if (now_ms - last_heartbeat_ms_ >= options_.heartbeat.count()) heartbeat(now_ms);
}

void SessionAnnouncer::heartbeat(int64_t now_ms) {
  last_heartbeat_ms_ = now_ms;
  reg::RoomHeartbeatRequest req;
  req.set_room_id(options_.room_id);
  req.set_room_address(options_.room_address);
  req.set_sessions(static_cast<uint32_t>(session_count_()));
  req.set_resync(resync_needed_);
  resync_needed_ = false;
  // A heartbeat that fails asks for no resync by itself: it carries no session, so register's
  // table is as it was. A failed batch asks for one (on_batch_failed), and a register that
  // lost this room (a restart, room_timeout) pulls it at the next heartbeat that reaches it.
  // (Asking for one after every late heartbeat made a busy register busier: each room whose
  // heartbeat was late had all its sessions pulled again.) Only a resync this heartbeat was
  // carrying is asked for again.
  register_->heartbeat(req, [this, asked = req.resync()](size_t shard, const Status& st, bool) {
    ++heartbeat_replies_;
    if (st.isOk()) return;
    LOG_EVERY_SEC(Warn, Room, 5, "heartbeat to register shard {} failed: {}", shard, st.toString());
    if (asked) resync_needed_ = true;
  });
}

Status SessionAnnouncer::setShards(std::vector<reg::RegisterClient::Shard> shards, int64_t now_ms) {
  ASSIGN_OR_RETURN(const bool moved, register_->setShards(std::move(shards)));
  if (!moved) return Status::ok();
  resync_needed_ = true;
  if (register_->shardCount() > 0) heartbeat(now_ms);
  return Status::ok();
}

void SessionAnnouncer::flush(std::function<void()> done) {
  register_->flush(std::move(done));
}

}  // namespace push::room
