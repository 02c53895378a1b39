#include "services/room/sessions.h"

#include <algorithm>

#include "common/net/tcp_connection.h"
#include "services/register/slot_map.h"
#include "services/room/app_table.h"
#include "services/room/connection_table.h"
#include "services/room/session_announcer.h"
#include "services/room/upstream_forwarder.h"

namespace push::room {

Sessions::Sessions(const AppTable& apps, ConnectionTable& table, Limits limits)
    : apps_(apps), table_(table), limits_(limits) {}

const std::string& Sessions::keyOf(uint16_t app, std::string_view user) const {
  key_.clear();
  key_.push_back(static_cast<char>(app >> 8));
  key_.push_back(static_cast<char>(app & 0xff));
  key_.append(user);
  return key_;
}

std::span<const net::ConnId> Sessions::connectionsOf(uint16_t app, std::string_view user) const {
  auto it = index_.find(keyOf(app, user));
  if (it == index_.end()) return {};
  return it->second;
}

Sessions::Admission Sessions::admit(const ClientConn& c, uint16_t app) const {
  Admission a;
  std::span<const net::ConnId> ids = connectionsOf(app, c.user);
  if (ids.empty()) return a;
  // The user's other connections, and those of the same device, oldest first.
  std::vector<const ClientConn*> user_conns, device_conns;
  for (net::ConnId id : ids) {
    const ClientConn* other = table_.find(id);
    if (!other || other == &c) continue;
    user_conns.push_back(other);
    if (other->device == c.device) device_conns.push_back(other);
  }
  const size_t over_device = device_conns.size() >= limits_.max_per_device
                                 ? device_conns.size() + 1 - limits_.max_per_device
                                 : 0;
  const size_t over_user =
      user_conns.size() >= limits_.max_per_user ? user_conns.size() + 1 - limits_.max_per_user : 0;
  if (over_device == 0 && over_user == 0) return a;
  if (limits_.policy == LimitPolicy::RefuseNewest) {
    a.refuse = true;
    a.why = over_device
                ? "at most " + std::to_string(limits_.max_per_device) +
                      " connections per device of a user"
                : "at most " + std::to_string(limits_.max_per_user) + " connections per user";
    return a;
  }
  auto oldest = [](const ClientConn* x, const ClientConn* y) { return x->since_ms < y->since_ms; };
  std::sort(device_conns.begin(), device_conns.end(), oldest);
  for (size_t i = 0; i < over_device; ++i)
    a.evict.push_back(device_conns[i]->tcp->id());
  if (over_user > over_device) {
    // More must go for the user cap: the oldest of the rest, whatever their device.
    std::sort(user_conns.begin(), user_conns.end(), oldest);
    for (const ClientConn* other : user_conns) {
      if (a.evict.size() >= over_user) break;
      if (std::find(a.evict.begin(), a.evict.end(), other->tcp->id()) == a.evict.end()) {
        a.evict.push_back(other->tcp->id());
      }
    }
  }
  a.why = over_device ? "replaced: too many connections of this device"
                      : "replaced: too many connections of this user";
  return a;
}

void Sessions::open(ClientConn& c, uint16_t app) {
  index_[keyOf(app, c.user)].push_back(c.tcp->id());
  ++count_;
  if (announcer_) {
    reg::RegisterClient::OnlineSent sent;
    if (on_registered_) {
      sent = [this, id = c.tcp->id(), app](bool) {
        if (on_registered_) on_registered_(id, app);
      };
    }
    announcer_->online(c, apps_.name(app), std::move(sent));
  }
  if (upstream_) upstream_->sessionEvent(c, c.tcp->id(), apps_.name(app), true);
}

void Sessions::close(ClientConn& c, uint16_t app) {
  auto it = index_.find(keyOf(app, c.user));
  if (it != index_.end()) {
    std::vector<net::ConnId>& ids = it->second;
    auto pos = std::find(ids.begin(), ids.end(), c.tcp->id());
    if (pos != ids.end()) {
      *pos = ids.back();
      ids.pop_back();
    }
    if (ids.empty()) index_.erase(it);
  }
  --count_;
  if (announcer_) announcer_->offline(c, apps_.name(app));
  if (upstream_) upstream_->sessionEvent(c, c.tcp->id(), apps_.name(app), false);
}

void Sessions::closeAll(ClientConn& c) {
  for (uint8_t i = 0; i < c.app_count; ++i)
    close(c, c.apps[i]);
  c.app_count = 0;
}

Status Sessions::list(const ListSessionsRequest& request, const std::string& room_id,
                      const std::string& room_address, ListSessionsResponse* response) const {
  const uint32_t limit = request.limit() == 0 ? 1000 : std::min<uint32_t>(request.limit(), 10000);
  std::vector<bool> slots;
  if (request.slots_size() > 0) {
    slots.assign(reg::kSlotCount, false);
    for (uint32_t s : request.slots()) {
      if (s >= reg::kSlotCount)
        return invalidArgument("slot " + std::to_string(s) + " out of range");
      slots[s] = true;
    }
  }
  size_t i = static_cast<size_t>(request.cursor());
  for (; i < table_.slotCount() && static_cast<uint32_t>(response->sessions_size()) < limit; ++i) {
    const ClientConn& c = table_.slot(i);
    if (!c.in_use || c.state != ConnState::Active) continue;
    for (uint8_t a = 0; a < c.app_count; ++a) {
      const std::string& app = apps_.name(c.apps[a]);
      if (!slots.empty() && !slots[reg::slotOf(app, c.user)]) continue;
      Session* s = response->add_sessions();
      s->set_app(app);
      s->set_user(c.user);
      s->set_device(c.device);
      s->set_room_id(room_id);
      s->set_room_address(room_address);
      s->set_conn_id(c.tcp->id());
      s->set_since_ms(c.since_ms);
    }
  }
  response->set_next_cursor(i);
  response->set_done(i >= table_.slotCount());
  return Status::ok();
}

}  // namespace push::room
