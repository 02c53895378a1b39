#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proto/session.pb.h"
#include "services/register/slot_map.h"

namespace push::reg {

// (app, user) -> sessions, in memory. Rooms are interned (a session stores a 4-byte room index,
// not the room's id and address strings). Not thread-safe: one loop owns it.
//
// Memory: about 100 bytes per session plus the key strings; a user with several devices
// shares one key.
class SessionTable {
 public:
  explicit SessionTable(uint32_t max_sessions_per_user = 64)
      : max_per_user_(max_sessions_per_user) {}

  // Adds or refreshes a session (same room id + conn id replaces). Beyond the per-user limit
  // the oldest session is dropped. Returns false if the session was already known.
  bool add(const Session& session);
  // Removes one session; false if it was not there.
  bool remove(std::string_view app, std::string_view user, std::string_view room_id,
              uint64_t conn_id);
  // Appends the user's sessions to `out`.
  void lookup(std::string_view app, std::string_view user, std::vector<Session>* out) const;
  // Drops every session held by `room_id`; returns how many.
  size_t dropRoom(std::string_view room_id);
  // Drops sessions of other rooms at `address` (an older instance restarted there).
  size_t dropOtherRoomsAt(std::string_view address, std::string_view keep_room_id);
  // Drops every session whose user's slot is not in `slots` (slots this instance gave up);
  // returns how many.
  size_t keepOnlySlots(const SlotSet& slots);

  // Reconcile with a full pull of `room_id` (its Room.ListSessions): startConfirming() marks
  // every session of the room unconfirmed; add() of a session of the room (a page of the pull,
  // or an Online meanwhile) confirms it; dropUnconfirmed() then drops the sessions nobody
  // confirmed (they left the room while this table did not hear it, e.g. an Offline that went
  // to another register while the slot's owner was changing) and returns how many.
  void startConfirming(std::string_view room_id);
  size_t dropUnconfirmed(std::string_view room_id);

  size_t sessionCount() const { return sessions_; }
  size_t userCount() const { return users_.size(); }
  size_t sessionsOfRoom(std::string_view room_id) const;

 private:
  struct Entry {
    std::string device;
    uint64_t conn_id;
    int64_t since_ms;
    uint32_t room;
    uint32_t epoch;  // the room's epoch when last added: equal to it means confirmed
  };
  struct Room {
    std::string id;
    std::string address;
    size_t sessions = 0;
    size_t confirmed = 0;  // sessions whose entry has the room's current epoch
    uint32_t epoch = 0;    // bumped by startConfirming()
  };
  static std::string key(std::string_view app, std::string_view user);
  uint32_t internRoom(std::string_view id, std::string_view address);
  const Room* findRoom(std::string_view id, uint32_t* index) const;
  size_t dropWhere(const std::vector<bool>& drop_room);
  // Every removal of an entry goes through it: the room's counts follow.
  void forget(const Entry& e);

  uint32_t max_per_user_;
  std::unordered_map<std::string, std::vector<Entry>> users_;  // key: app '\0' user
  std::vector<Room> rooms_;
  std::unordered_map<std::string, uint32_t> room_index_;
  size_t sessions_ = 0;
};

}  // namespace push::reg
