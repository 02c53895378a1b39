#include "services/register/session_table.h"

#include <algorithm>

namespace push::reg {

std::string SessionTable::key(std::string_view app, std::string_view user) {
  std::string k;
  k.reserve(app.size() + 1 + user.size());
  k.append(app);
  k.push_back('\0');
  k.append(user);
  return k;
}

uint32_t SessionTable::internRoom(std::string_view id, std::string_view address) {
  auto it = room_index_.find(std::string(id));
  if (it != room_index_.end()) {
    if (!address.empty()) rooms_[it->second].address = std::string(address);
    return it->second;
  }
  // Reuse the slot of a room with no sessions left, so restarts do not grow the table.
  for (uint32_t i = 0; i < rooms_.size(); ++i) {
    if (rooms_[i].sessions == 0) {
      room_index_.erase(rooms_[i].id);
      rooms_[i] = Room{std::string(id), std::string(address), 0};
      room_index_.emplace(std::string(id), i);
      return i;
    }
  }
  rooms_.push_back(Room{std::string(id), std::string(address), 0});
  room_index_.emplace(std::string(id), static_cast<uint32_t>(rooms_.size() - 1));
  return static_cast<uint32_t>(rooms_.size() - 1);
}

const SessionTable::Room* SessionTable::findRoom(std::string_view id, uint32_t* index) const {
  auto it = room_index_.find(std::string(id));
  if (it == room_index_.end()) return nullptr;
  *index = it->second;
  return &rooms_[it->second];
}

bool SessionTable::add(const Session& s) {
  const uint32_t room = internRoom(s.room_id(), s.room_address());
  auto& entries = users_[key(s.app(), s.user())];
  Room& r = rooms_[room];
  for (Entry& e : entries) {
    if (e.room == room && e.conn_id == s.conn_id()) {
      e.device = s.device();
      e.since_ms = s.since_ms();
      if (e.epoch != r.epoch) {
        e.epoch = r.epoch;
        ++r.confirmed;
      }
      return false;
    }
  }
  if (entries.size() >= max_per_user_) {
    auto oldest =
        std::min_element(entries.begin(), entries.end(),
                         [](const Entry& a, const Entry& b) { return a.since_ms < b.since_ms; });
    forget(*oldest);
    entries.erase(oldest);
  }
  entries.push_back(Entry{s.device(), s.conn_id(), s.since_ms(), room, r.epoch});
  ++r.sessions;
  ++r.confirmed;
  ++sessions_;
  return true;
}

void SessionTable::forget(const Entry& e) {
  Room& r = rooms_[e.room];
  --r.sessions;
  if (e.epoch == r.epoch) --r.confirmed;
  --sessions_;
}

void SessionTable::startConfirming(std::string_view room_id) {
  uint32_t room;
  if (!findRoom(room_id, &room)) return;
  ++rooms_[room].epoch;
  rooms_[room].confirmed = 0;
}

size_t SessionTable::dropUnconfirmed(std::string_view room_id) {
  uint32_t room;
  if (!findRoom(room_id, &room)) return 0;
  Room& r = rooms_[room];
  if (r.confirmed == r.sessions) return 0;  // the common case: no walk over the table
  size_t dropped = 0;
  for (auto it = users_.begin(); it != users_.end();) {
    auto& entries = it->second;
    for (size_t i = 0; i < entries.size();) {
      if (entries[i].room == room && entries[i].epoch != r.epoch) {
        forget(entries[i]);
        entries.erase(entries.begin() + static_cast<long>(i));
        ++dropped;
      } else {
        ++i;
      }
    }
    it = entries.empty() ? users_.erase(it) : std::next(it);
  }
  return dropped;
}

bool SessionTable::remove(std::string_view app, std::string_view user, std::string_view room_id,
                          uint64_t conn_id) {
  uint32_t room;
  if (!findRoom(room_id, &room)) return false;
  auto it = users_.find(key(app, user));
  if (it == users_.end()) return false;
  auto& entries = it->second;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].room == room && entries[i].conn_id == conn_id) {
      forget(entries[i]);
      entries.erase(entries.begin() + static_cast<long>(i));
      if (entries.empty()) users_.erase(it);
      return true;
    }
  }
  return false;
}

void SessionTable::lookup(std::string_view app, std::string_view user,
                          std::vector<Session>* out) const {
  auto it = users_.find(key(app, user));
  if (it == users_.end()) return;
  for (const Entry& e : it->second) {
    Session& s = out->emplace_back();
    s.set_app(std::string(app));
    s.set_user(std::string(user));
    s.set_device(e.device);
    s.set_room_id(rooms_[e.room].id);
    s.set_room_address(rooms_[e.room].address);
    s.set_conn_id(e.conn_id);
    s.set_since_ms(e.since_ms);
  }
}

size_t SessionTable::dropWhere(const std::vector<bool>& drop_room) {
  size_t dropped = 0;
  for (auto it = users_.begin(); it != users_.end();) {
    auto& entries = it->second;
    size_t before = entries.size();
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const Entry& e) { return drop_room[e.room]; }),
                  entries.end());
    dropped += before - entries.size();
    it = entries.empty() ? users_.erase(it) : std::next(it);
  }
  for (size_t i = 0; i < rooms_.size(); ++i) {
    if (drop_room[i]) rooms_[i].sessions = rooms_[i].confirmed = 0;
  }
  sessions_ -= dropped;
  return dropped;
}

size_t SessionTable::dropRoom(std::string_view room_id) {
  uint32_t room;
  const Room* r = findRoom(room_id, &room);
  if (!r || r->sessions == 0) return 0;
  std::vector<bool> drop(rooms_.size(), false);
  drop[room] = true;
  return dropWhere(drop);
}

size_t SessionTable::dropOtherRoomsAt(std::string_view address, std::string_view keep_room_id) {
  std::vector<bool> drop(rooms_.size(), false);
  bool any = false;
  for (size_t i = 0; i < rooms_.size(); ++i) {
    if (rooms_[i].address == address && rooms_[i].id != keep_room_id && rooms_[i].sessions > 0) {
      drop[i] = any = true;
    }
  }
  return any ? dropWhere(drop) : 0;
}

size_t SessionTable::keepOnlySlots(const SlotSet& slots) {
  size_t dropped = 0;
  for (auto it = users_.begin(); it != users_.end();) {
    const std::string& k = it->first;
    const size_t nul = k.find('\0');
    const std::string_view app(k.data(), nul);
    const std::string_view user(k.data() + nul + 1, k.size() - nul - 1);
    if (slots.contains(slotOf(app, user))) {
      ++it;
      continue;
    }
    for (const Entry& e : it->second)
      forget(e);
    dropped += it->second.size();
    it = users_.erase(it);
  }
  return dropped;
}

size_t SessionTable::sessionsOfRoom(std::string_view room_id) const {
  uint32_t room;
  const Room* r = findRoom(room_id, &room);
  return r ? r->sessions : 0;
}

}  // namespace push::reg
