#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/discovery/service_instance.h"

namespace push::dispatcher {

// One endpoint a client may connect to, parsed once when the room list changes.
struct RouteEndpoint {
  std::string address;  // "host:port" as the room registered it
  std::string host;     // the part before the last ':' (what "same IP" compares)
  uint16_t port = 0;
  // `host` numbered within its table (equal hosts, equal ids): the scattering compares these,
  // not the strings.
  uint32_t host_id = 0;
  // `port` numbered the same way (ids below 64 let the scattering keep sets as bit masks).
  uint32_t port_id = 0;
  std::string json;  // the client's form as a JSON string: "\"h:p\"" or "\"ws://h:p/ws\""
};

// A room that can take clients: registered with a "tcp" or "ws" endpoint, a weight above 0
// and a load below 1.
struct RouteRoom {
  std::string id;
  std::string region;
  uint32_t weight = 0;
  double load = 0;
  // weight x (1 - load), at least min_weight_fraction x weight: the HRW weight.
  double effective_weight = 0;
  uint64_t id_hash = 0;
  // Ordered by name suffix: "tcp", "tcp.1", "tcp.2", ... (likewise "ws", "ws.1", ...).
  std::vector<RouteEndpoint> tcp;
  std::vector<RouteEndpoint> ws;
  std::string id_json;      // JSON string of id
  std::string region_json;  // JSON string of region
};

// The hash of a client, (app, user): stable across processes and releases (push::hash64), so
// every dispatcher sends a user to the same room.
uint64_t clientHash(std::string_view app, std::string_view user);

// The routable rooms of one room list and, per region, which of them are "own" and which
// "other", precomputed so a request only hashes and sorts a handful of numbers. Immutable once
// built: the server swaps a new one in (shared_ptr) when the list changes; a request holds the
// one it started with.
//
// Order of an answer (route()): the rooms of the client's region by weighted rendezvous
// hashing (HRW: score = -w / ln(u), u = hash(client, room) in (0,1), highest first), so the
// first is the user's sticky room and adding or removing a room moves only the users whose
// first room it is or becomes (~1/N). A client without a region is in `default_region`; with
// default_region empty, or a region that has no routable room, every room is its own.
// retry > 0 adds the other regions' rooms (also HRW-ordered): retry 1 after the own region's,
// retry >= 2 before them (two failed tries suggest the region itself is unreachable). With both
// groups, the first group gets ceil(max_rooms / 2) places, the second what is left, then the
// first group fills up. At most max_rooms rooms.
class RouteTable {
 public:
  struct Options {
    std::string default_region;
    // Rooms in one answer. Default: 8.
    uint32_t max_rooms = 8;
    // Floor of the load scaling, as a fraction of the room's weight. Default: 0.05.
    double min_weight_fraction = 0.05;
  };
  struct Skipped {
    std::string id;
    std::string reason;
  };
  // Scratch a caller reuses across route() calls (no allocation once warm).
  struct Scratch {
    std::vector<std::pair<double, uint32_t>> scores;
    std::vector<uint32_t> first;
    std::vector<uint32_t> second;
  };

  static std::shared_ptr<const RouteTable> build(
      const std::vector<discovery::ServiceInstance>& instances, const Options& options);

  // Routable rooms, in the order of the instance list (by id).
  const std::vector<RouteRoom>& rooms() const { return rooms_; }
  // Instances left out, with why (full, weight 0, no endpoint, a bad endpoint).
  const std::vector<Skipped>& skipped() const { return skipped_; }
  const Options& options() const { return options_; }

  // The rooms for client hash `client` in `region` (may be empty) after `retry` failed tries,
  // best first, as indexes into rooms(). `out` is cleared first.
  void route(uint64_t client, std::string_view region, uint32_t retry, Scratch* scratch,
             std::vector<uint32_t>* out) const;

  // The HRW score of a room for a client (exposed for tests).
  static double score(uint64_t client, const RouteRoom& room);

 private:
  struct Groups {
    std::vector<uint32_t> own;
    std::vector<uint32_t> other;
  };
  // The best `limit` of `group` for `client`, best first, into `out`.
  void rank(uint64_t client, const std::vector<uint32_t>& group, size_t limit, Scratch* scratch,
            std::vector<uint32_t>* out) const;
  const Groups& groupsOf(std::string_view region) const;

  Options options_;
  std::vector<RouteRoom> rooms_;
  std::vector<Skipped> skipped_;
  std::map<std::string, Groups, std::less<>> regions_;
  Groups everyone_;  // own: every room; other: none
};

// Parses "host:port" (IPv6 as "[::1]:port"). False when there is no port or it is not 1..65535.
bool parseEndpoint(std::string_view address, std::string* host, uint16_t* port);

}  // namespace push::dispatcher
