#include "services/room/connection_deadlines.h"

#include <algorithm>

#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"
#include "services/room/connection_table.h"

namespace push::room {

namespace {
constexpr int64_t kWheelTickMs = 100;
constexpr size_t kWheelSlots = 4096;  // ~410 s per turn
}  // namespace

ConnectionDeadlines::ConnectionDeadlines(net::EventLoop& loop, ConnectionTable& table,
                                         std::chrono::milliseconds auth_timeout, ExpireFn on_expire)
    : loop_(loop), table_(table), auth_timeout_(auth_timeout), on_expire_(std::move(on_expire)) {}

void ConnectionDeadlines::start() {
  wheel_ = net::LoopWheel::create(loop_, kWheelTickMs, kWheelSlots,
                                  [this](uint64_t id) { onWheel(id); });
}

void ConnectionDeadlines::stop() {
  wheel_.reset();
}

int64_t ConnectionDeadlines::deadlineOf(const ClientConn& c) const {
  int64_t due = 0;
  switch (c.state) {
    case ConnState::WsHandshake:
    case ConnState::Authenticating:
      due = c.last_seen_ms + auth_timeout_.count();
      break;
    case ConnState::Active:
      due = c.last_seen_ms + int64_t{c.heartbeat_s} * 2500;
      break;
    case ConnState::Closing:
      return c.close_at_ms;
  }
  return c.close_at_ms ? std::min(due, c.close_at_ms) : due;
}

void ConnectionDeadlines::arm(ClientConn& c) {
  if (!wheel_) return;  // stopping: every connection is being closed
  const int64_t due = deadlineOf(c);
  if (c.wheel_ms != 0 && c.wheel_ms <= due) return;
  c.wheel_ms = due;
  wheel_->schedule(c.tcp->id(), due);
}

void ConnectionDeadlines::onWheel(uint64_t conn_id) {
  ClientConn* c = table_.find(conn_id);
  if (!c) return;
  const int64_t now = loop_.nowMs();
  if (c->wheel_ms <= now) c->wheel_ms = 0;  // the tracked entry fired (this one)
  if (now < deadlineOf(*c)) {
    if (c->wheel_ms == 0) arm(*c);  // a later entry may still be pending: it re-checks
    return;
  }
  on_expire_(*c, now);
}

}  // namespace push::room
