#include "services/dispatcher/route_table.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/base/hash.h"
#include "common/base/json_writer.h"

namespace push::dispatcher {
namespace {

// "tcp" -> 0, "tcp.3" -> 3 for `kind` "tcp"; -1 when the name is not of that kind.
long endpointIndex(std::string_view name, std::string_view kind) {
  if (name.substr(0, kind.size()) != kind) return -1;
  std::string_view rest = name.substr(kind.size());
  if (rest.empty()) return 0;
  if (rest[0] != '.' || rest.size() < 2 || rest.size() > 6) return -1;
  long n = 0;
  auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), n);
  if (ec != std::errc() || end != rest.data() + rest.size() || n < 1) return -1;
  return n;
}

std::string jsonString(std::string_view s) {
  std::string out;
  appendJsonString(&out, s);
  return out;
}

// The endpoints of one kind, ordered by index. False (with `why`) for one that does not parse.
bool collect(const discovery::ServiceInstance& in, std::string_view kind, bool websocket,
             std::vector<RouteEndpoint>* out, std::string* why) {
  std::vector<std::pair<long, const std::string*>> found;
  for (const auto& [name, address] : in.endpoints) {
    long index = endpointIndex(name, kind);
    if (index >= 0) found.emplace_back(index, &address);
  }
  std::sort(found.begin(), found.end());
  for (const auto& [index, address] : found) {
    RouteEndpoint ep;
    if (!parseEndpoint(*address, &ep.host, &ep.port)) {
      *why = "bad endpoint '" + *address + "'";
      return false;
    }
    ep.address = *address;
    ep.json = jsonString(websocket ? "ws://" + *address + "/ws" : *address);
    out->push_back(std::move(ep));
  }
  return true;
}

}  // namespace

bool parseEndpoint(std::string_view address, std::string* host, uint16_t* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = address.substr(0, colon);
  std::string_view p = address.substr(colon + 1);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return false;  // an IPv6 address needs brackets
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || value < 1 || value > 65535)
    return false;
  host->assign(h);
  *port = static_cast<uint16_t>(value);
  return true;
}

uint64_t clientHash(std::string_view app, std::string_view user) {
  // Two hashes mixed rather than one of "app\0user": no concatenation on the request path.
  return mix64(hash64(app) ^ mix64(hash64(user) + 0x9e3779b97f4a7c15ull));
}

double RouteTable::score(uint64_t client, const RouteRoom& room) {
  const uint64_t h = mix64(client ^ room.id_hash);
  // u in (0, 1): 53 bits, never 0 or 1, so ln(u) is finite and negative.
  const double u = (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;
  return -room.effective_weight / std::log(u);
}

std::shared_ptr<const RouteTable> RouteTable::build(
    const std::vector<discovery::ServiceInstance>& instances, const Options& options) {
  auto table = std::make_shared<RouteTable>();
  table->options_ = options;
  for (const auto& in : instances) {
    std::string why;
    if (!(in.load < 1)) {  // also NaN
      why = "full (load " + std::to_string(in.load) + ")";
    } else if (in.weight == 0) {
      why = "weight 0";
    }
    RouteRoom room;
    if (why.empty() && collect(in, "tcp", false, &room.tcp, &why) &&
        collect(in, "ws", true, &room.ws, &why) && room.tcp.empty() && room.ws.empty()) {
      why = "no tcp or ws endpoint";
    }
    if (!why.empty()) {
      table->skipped_.push_back({in.id, std::move(why)});
      continue;
    }
    room.id = in.id;
    room.region = in.region;
    room.weight = in.weight;
    room.load = std::max(0.0, in.load);
    const double factor = std::max(options.min_weight_fraction, 1.0 - room.load);
    room.effective_weight = static_cast<double>(in.weight) * std::min(1.0, factor);
    room.id_hash = hash64(in.id);
    room.id_json = jsonString(in.id);
    room.region_json = jsonString(in.region);
    table->rooms_.push_back(std::move(room));
  }
  std::map<std::string, uint32_t, std::less<>> host_ids;
  std::map<uint16_t, uint32_t> port_ids;
  for (RouteRoom& room : table->rooms_) {
    for (auto* list : {&room.tcp, &room.ws}) {
      for (RouteEndpoint& ep : *list) {
        ep.host_id =
            host_ids.emplace(ep.host, static_cast<uint32_t>(host_ids.size())).first->second;
        ep.port_id =
            port_ids.emplace(ep.port, static_cast<uint32_t>(port_ids.size())).first->second;
      }
    }
  }
  const auto n = static_cast<uint32_t>(table->rooms_.size());
  for (uint32_t i = 0; i < n; ++i) {
    table->everyone_.own.push_back(i);
    table->regions_[table->rooms_[i].region];  // every region present gets its entry
  }
  for (auto& [region, groups] : table->regions_) {
    for (uint32_t i = 0; i < n; ++i) {
      (table->rooms_[i].region == region ? groups.own : groups.other).push_back(i);
    }
  }
  return table;
}

const RouteTable::Groups& RouteTable::groupsOf(std::string_view region) const {
  if (region.empty()) region = options_.default_region;
  if (region.empty()) return everyone_;
  auto it = regions_.find(region);
  return it == regions_.end() ? everyone_ : it->second;
}

void RouteTable::rank(uint64_t client, const std::vector<uint32_t>& group, size_t limit,
                      Scratch* scratch, std::vector<uint32_t>* out) const {
  out->clear();
  auto& scores = scratch->scores;
  scores.clear();
  for (uint32_t i : group)
    scores.emplace_back(score(client, rooms_[i]), i);
  limit = std::min(limit, scores.size());
  // Highest score first; equal scores (equal hashes) by index, so the order is total.
  std::partial_sort(scores.begin(), scores.begin() + static_cast<std::ptrdiff_t>(limit),
                    scores.end(), [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first : a.second < b.second;
                    });
  for (size_t k = 0; k < limit; ++k)
    out->push_back(scores[k].second);
}

void RouteTable::route(uint64_t client, std::string_view region, uint32_t retry, Scratch* scratch,
                       std::vector<uint32_t>* out) const {
  out->clear();
  const size_t max = options_.max_rooms;
  const Groups& groups = groupsOf(region);
  if (retry == 0 || groups.other.empty()) {
    rank(client, groups.own, max, scratch, out);
    return;
  }
  const auto& first_group = retry >= 2 ? groups.other : groups.own;
  const auto& second_group = retry >= 2 ? groups.own : groups.other;
  rank(client, first_group, max, scratch, &scratch->first);
  rank(client, second_group, max, scratch, &scratch->second);
  const size_t head = std::min(scratch->first.size(), (max + 1) / 2);
  out->assign(scratch->first.begin(), scratch->first.begin() + static_cast<std::ptrdiff_t>(head));
  for (uint32_t i : scratch->second) {
    if (out->size() >= max) break;
    out->push_back(i);
  }
  for (size_t k = head; k < scratch->first.size() && out->size() < max; ++k) {
    out->push_back(scratch->first[k]);
  }
}

}  // namespace push::dispatcher
