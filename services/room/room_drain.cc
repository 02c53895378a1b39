#include "services/room/room_drain.h"

#include <algorithm>
#include <vector>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "proto/client.pb.h"
#include "services/room/client_protocol.h"
#include "services/room/connection_table.h"

namespace push::room {

void RoomDrain::start(std::chrono::milliseconds window, std::chrono::milliseconds deadline,
                      std::function<void()> on_drained) {
  if (on_drained) on_drained_ = std::move(on_drained);
  if (active_) return;
  active_ = true;
  protocol_.setDraining(true);
  const int64_t now = loop_.nowMs();
  const int64_t deadline_ms = now + deadline.count();
  std::vector<size_t> open;
  for (size_t i = 0; i < table_.slotCount(); ++i) {
    const ClientConn& c = table_.slot(i);
    if (c.in_use && c.state != ConnState::Closing) open.push_back(i);
  }
  LOG_INFO(Room, "draining {} connections over {} ms (deadline {} ms)", open.size(), window.count(),
           deadline.count());
  for (size_t k = 0; k < open.size(); ++k) {
    ClientConn& c = table_.slot(open[k]);
    const int64_t delay = open.size() > 1 ? window.count() * static_cast<int64_t>(k) /
                                                static_cast<int64_t>(open.size())
                                          : 0;
    if (c.state == ConnState::Active) {
      client::Frame frame;
      frame.mutable_reconnect()->set_delay_ms(static_cast<uint32_t>(delay));
      frame.mutable_reconnect()->set_reason("room draining");
      protocol_.sendFrame(c, frame);
      protocol_.closeAt(c, std::min(now + delay + kGraceMs, deadline_ms));
    } else {
      protocol_.fail(c, client::ERROR_DRAINING, "room is draining: reconnect elsewhere");
    }
  }
  check();
}

void RoomDrain::check() {
  if (!active_ || table_.size() > 0 || !on_drained_) return;
  auto done = std::move(on_drained_);
  on_drained_ = nullptr;
  LOG_INFO(Room, "drained");
  loop_.post(std::move(done));
}

}  // namespace push::room
