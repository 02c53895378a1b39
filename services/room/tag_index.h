#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/tag_name.h"
#include "common/net/conn_id.h"

namespace push::room {

// The room's tag subscriptions (sdk/PROTOCOL.md "Tags"): (app, tag) -> the connections
// subscribed to it, for a broadcast to one tag, and per connection what it subscribed, for
// the per-connection limit and for cleanup when the connection closes or unbinds an app.
//
// Memory: a connection without tags costs nothing here (and nothing in ClientConn). A
// subscription is one ConnId in its tag's vector plus one {entry, position} pair in its
// connection's list; removal swaps the last subscriber into the hole and fixes that
// subscriber's position, so every operation is O(tags of the connection), never O(subscribers
// of the tag). A tag's entry (and its name) exists only while someone is subscribed to it.
//
// Loop-thread only. Knows nothing of connections beyond their ids.
class TagIndex {
 public:
  // sdk/PROTOCOL.md: 1..64 bytes of [A-Za-z0-9_.:-].
  static constexpr size_t kMaxTagBytes = kMaxTagNameBytes;
  static bool validTag(std::string_view tag);

  explicit TagIndex(uint32_t max_tags_per_connection) : max_per_conn_(max_tags_per_connection) {}
  TagIndex(const TagIndex&) = delete;
  TagIndex& operator=(const TagIndex&) = delete;

  enum class Outcome { Ok, TooMany };
  // Subscribes `conn` to every tag of `tags` of `app` (tags must be valid; duplicates and
  // tags already subscribed count once). All or nothing: TooMany, and nothing changes, when
  // the connection would hold more than the limit of that app's tags.
  Outcome subscribe(net::ConnId conn, uint16_t app, const std::vector<std::string_view>& tags);
  // Removes those tags of `app` from `conn` (tags not subscribed are ignored).
  void unsubscribe(net::ConnId conn, uint16_t app, const std::vector<std::string_view>& tags);
  // Every tag of `app` (Unbind), or every tag (the connection closes).
  void removeApp(net::ConnId conn, uint16_t app);
  void removeConnection(net::ConnId conn);

  // Whether `conn` is subscribed to (app, tag): O(tags of the connection), no allocation (a
  // broadcast to one tag asks it for every connection it passes).
  bool contains(net::ConnId conn, uint16_t app, std::string_view tag) const;
  // The tags of `app` that `conn` is subscribed to, sorted.
  std::vector<std::string> tagsOf(net::ConnId conn, uint16_t app) const;
  // Connections subscribed to (app, tag), and each of them in unspecified order. `fn` must not
  // change this index (collect the ids first if it may close connections).
  size_t count(uint16_t app, std::string_view tag) const;
  template <typename Fn>
  void forEach(uint16_t app, std::string_view tag, Fn&& fn) const {
    const Entry* e = findEntry(app, tag);
    if (!e) return;
    for (net::ConnId id : e->conns)
      fn(id);
  }

  // (app, tag) pairs with at least one subscriber; subscriptions in all; connections with any.
  size_t entries() const { return entries_.size(); }
  size_t subscriptions() const { return subscriptions_; }
  size_t connections() const { return by_conn_.size(); }

 private:
  struct Entry {
    uint16_t app = 0;
    std::string tag;
    std::vector<net::ConnId> conns;
  };
  struct Sub {
    Entry* entry;
    uint32_t pos;  // index of the connection in entry->conns
  };
  // Key: 2 bytes of app, then the tag: one string, one hash, no pair type.
  static std::string keyOf(uint16_t app, std::string_view tag);
  const Entry* findEntry(uint16_t app, std::string_view tag) const;
  // Takes subs[i] out of its entry (erasing an emptied entry) and out of `subs`.
  void dropSub(std::vector<Sub>& subs, size_t i);

  const uint32_t max_per_conn_;
  std::unordered_map<std::string, Entry> entries_;  // node-based: Entry* stay valid
  std::unordered_map<net::ConnId, std::vector<Sub>> by_conn_;
  size_t subscriptions_ = 0;
};

}  // namespace push::room
