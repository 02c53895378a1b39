#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/auth/token.h"
#include "common/discovery/app_record.h"
#include "proto/client.pb.h"

namespace push::room {

// A static app of the room's config file: one secret, no end.
struct AppSecret {
  std::string name;
  std::string secret;
};

// The apps a room serves and the one check of client tokens for Auth and Bind.
//
// Apps are numbered (connections, sessions, tags, broadcast consumers, acks and replays keep
// the number, not the name). A number is stable for the life of the process: static apps are
// 0..n-1 in configuration order; apps from ZooKeeper (apply()) get the next free number the
// first time they are seen. A removed app keeps its number and name but has no secrets and is
// not served: find() does not see it and verify() answers ERROR_UNKNOWN_APP. An app added
// again gets its old number back. At most `max_apps` numbers are ever given out: an app over
// that bound is ignored with an ERROR log line (and counted), since a number cannot be reused
// while a connection or a queued ack may still hold it.
//
// Secrets: an app has one or more (discovery::AppSecret: id, secret, not_after_ms); a token is
// valid when signed by any secret active at the time of the check (AppRecord::activeSecrets).
// So a rotation is: add the new secret, let app servers mint with it, remove the old one.
//
// Threads: each room worker (`push-room --workers N`) is its own process with its own
// RoomServer, so a table is only ever touched by its RoomServer's loop thread: the
// DiscoveryLink delivers app records on that thread and RoomServer calls apply() there, between
// the reads of the other parts. No lock, and no reference to an Entry is kept across loop
// iterations. Not copyable (the parts hold a reference to the one table).
class AppTable {
 public:
  // Numbers are uint16_t; the last value is kept out so "no app" never collides.
  static constexpr size_t kMaxApps = 65535;

  // `apps` with distinct names (RoomOptions::fromConfig checks); may be empty (the apps then
  // come from apply()). Static apps have one secret each, id "config", without end.
  explicit AppTable(std::vector<AppSecret> apps, size_t max_apps = kMaxApps);
  AppTable(const AppTable&) = delete;
  AppTable& operator=(const AppTable&) = delete;

  // The app's number when this room serves it now, or -1 (unknown, or removed).
  int find(std::string_view name) const;
  // Any number ever given out, served or not (a removed app keeps its name).
  const std::string& name(uint16_t app) const { return apps_[app].name; }
  // Numbers given out so far (served or removed): the bound of an app number.
  size_t size() const { return apps_.size(); }
  // Apps served now.
  size_t served() const { return served_; }
  bool serves(uint16_t app) const { return app < apps_.size() && apps_[app].served; }

  // What apply() changed, by app number.
  struct Changes {
    std::vector<uint16_t> added;    // served now, not before (new, or back after a removal)
    std::vector<uint16_t> removed;  // served before, not now
    std::vector<uint16_t> edited;   // served before and now, with other secrets
    size_t ignored = 0;             // over max_apps: not served
  };
  // Makes the served apps exactly those of `records` (name -> record, AppDirectory::Apps):
  // new apps are numbered, missing ones removed, the others take their new secrets. Apps with
  // no secret at all are treated as removed (decodeAppRecord refuses those anyway).
  Changes apply(const std::map<std::string, discovery::AppRecord, std::less<>>& records);
  // Apps ignored for the bound so far (each name counted once).
  size_t ignoredOverLimit() const { return ignored_names_.size(); }

  struct Verified {
    uint16_t app = 0;
    auth::TokenClaims claims;
  };
  // sdk/PROTOCOL.md 4, in its order: the token parses (ERROR_BAD_TOKEN), names an app this
  // room serves (ERROR_UNKNOWN_APP), is signed with one of that app's secrets active at
  // `now_ms` (ERROR_BAD_TOKEN) and has not expired at now_ms / 1000 (ERROR_TOKEN_EXPIRED).
  // ERROR_NONE fills `out`; otherwise `why` says what failed, for the client's Error frame and
  // the log (secret ids may appear there, never secrets).
  client::ErrorCode verify(std::string_view token, int64_t now_ms, Verified* out,
                           std::string* why) const;

 private:
  struct Entry {
    std::string name;
    std::vector<discovery::AppSecret> secrets;  // empty when removed
    bool served = false;
  };
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  const size_t max_apps_;
  std::vector<Entry> apps_;
  // Every name ever numbered (served or not) -> its number.
  std::unordered_map<std::string, uint16_t, NameHash, std::equal_to<>> by_name_;
  std::unordered_set<std::string, NameHash, std::equal_to<>> ignored_names_;
  size_t served_ = 0;
};

}  // namespace push::room
