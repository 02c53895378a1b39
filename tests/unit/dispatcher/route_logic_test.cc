// The routing rules without a server: HRW stickiness and spread, weights and load, regions and
// retry, endpoint parsing and ordering, and the IP/port scattering of the flat lists.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/http/http_request.h"
#include "services/dispatcher/endpoint_scatter.h"
#include "services/dispatcher/route_query.h"
#include "services/dispatcher/route_table.h"

namespace push::dispatcher {
namespace {

using discovery::ServiceInstance;

ServiceInstance room(std::string id, std::string region, std::string host, int port,
                     uint32_t weight = 100, double load = 0) {
  ServiceInstance in;
  in.id = std::move(id);
  in.region = std::move(region);
  in.weight = weight;
  in.load = load;
  in.endpoints["tcp"] = host + ":" + std::to_string(port);
  in.endpoints["ws"] = host + ":" + std::to_string(port + 1);
  return in;
}

std::vector<ServiceInstance> rooms(int n, std::string region = "r1") {
  std::vector<ServiceInstance> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(
        room("room" + std::to_string(i), region, "10.0.0." + std::to_string(i + 1), 7000 + 10 * i));
  }
  return out;
}

// The id of the first room for user `u`.
std::string first(const RouteTable& t, uint64_t client, std::string_view region = "",
                  uint32_t retry = 0) {
  RouteTable::Scratch s;
  std::vector<uint32_t> out;
  t.route(client, region, retry, &s, &out);
  return out.empty() ? "" : t.rooms()[out[0]].id;
}

TEST(DispatcherRouteTable, SameUserSameRoomAndEveryRoomUsed) {
  auto t = RouteTable::build(rooms(10), {});
  std::map<std::string, int> count;
  for (int u = 0; u < 10000; ++u) {
    const uint64_t c = clientHash("app", "u" + std::to_string(u));
    const std::string a = first(*t, c);
    EXPECT_EQ(a, first(*t, c));
    ++count[a];
  }
  ASSERT_EQ(count.size(), 10u);
  for (const auto& [id, n] : count) {
    EXPECT_GT(n, 800) << id;  // ~1000 each with equal weights
    EXPECT_LT(n, 1200) << id;
  }
  // The same user of another app is an independent draw.
  int same = 0;
  for (int u = 0; u < 1000; ++u) {
    const std::string user = "u" + std::to_string(u);
    same += first(*t, clientHash("a1", user)) == first(*t, clientHash("a2", user));
  }
  EXPECT_LT(same, 200);
}

TEST(DispatcherRouteTable, AddingARoomMovesAboutOneNth) {
  auto before = RouteTable::build(rooms(10), {});
  auto more = rooms(11);
  auto after = RouteTable::build(more, {});
  int moved = 0, moved_elsewhere = 0;
  for (int u = 0; u < 10000; ++u) {
    const uint64_t c = clientHash("app", "u" + std::to_string(u));
    const std::string a = first(*before, c), b = first(*after, c);
    if (a != b) {
      ++moved;
      if (b != "room10") ++moved_elsewhere;  // only to the new room
    }
  }
  // 1/11 of 10000 = 909.
  EXPECT_GT(moved, 700);
  EXPECT_LT(moved, 1150);
  EXPECT_EQ(moved_elsewhere, 0);
  // Removing it again moves those users back, nobody else.
  auto again = RouteTable::build(rooms(10), {});
  for (int u = 0; u < 2000; ++u) {
    const uint64_t c = clientHash("app", "u" + std::to_string(u));
    EXPECT_EQ(first(*before, c), first(*again, c));
  }
}

TEST(DispatcherRouteTable, WeightAndLoadSkew) {
  auto list = rooms(2);
  list[0].weight = 300;  // 3:1
  auto t = RouteTable::build(list, {});
  int heavy = 0;
  for (int u = 0; u < 10000; ++u)
    heavy += first(*t, clientHash("a", std::to_string(u))) == "room0";
  EXPECT_NEAR(heavy, 7500, 400);

  // Equal weights, room0 at load 0.75: effective 25 vs 100 -> 1:4.
  list = rooms(2);
  list[0].load = 0.75;
  t = RouteTable::build(list, {});
  ASSERT_DOUBLE_EQ(t->rooms()[0].effective_weight, 25);
  int busy = 0;
  for (int u = 0; u < 10000; ++u)
    busy += first(*t, clientHash("a", std::to_string(u))) == "room0";
  EXPECT_NEAR(busy, 2000, 400);

  // Load near 1 keeps the floor (5% of the weight); load >= 1 is skipped.
  list = rooms(3);
  list[0].load = 0.999;
  list[1].load = 1.0;
  t = RouteTable::build(list, {});
  ASSERT_EQ(t->rooms().size(), 2u);
  EXPECT_DOUBLE_EQ(t->rooms()[0].effective_weight, 5);
  ASSERT_EQ(t->skipped().size(), 1u);
  EXPECT_EQ(t->skipped()[0].id, "room1");
}

TEST(DispatcherRouteTable, SkipsRoomsThatCannotTakeClients) {
  auto list = rooms(4);
  list[0].weight = 0;
  list[1].endpoints = {{"rpc", "10.0.0.2:5000"}};
  list[2].endpoints["tcp.1"] = "nonsense";
  auto t = RouteTable::build(list, {});
  ASSERT_EQ(t->rooms().size(), 1u);
  EXPECT_EQ(t->rooms()[0].id, "room3");
  EXPECT_EQ(t->skipped().size(), 3u);
}

TEST(DispatcherRouteTable, EndpointsOrderedByIndex) {
  ServiceInstance in = room("r", "x", "10.0.0.1", 7000);
  in.endpoints["tcp.10"] = "10.0.0.1:7010";
  in.endpoints["tcp.2"] = "10.0.0.1:7002";
  in.endpoints["tcp.1"] = "[::1]:7001";
  in.endpoints["tcpx"] = "10.0.0.1:1";   // not a tcp endpoint
  in.endpoints["tcp.0"] = "10.0.0.1:2";  // indexes start at 1
  auto t = RouteTable::build({in}, {});
  ASSERT_EQ(t->rooms().size(), 1u);
  const auto& tcp = t->rooms()[0].tcp;
  ASSERT_EQ(tcp.size(), 4u);
  EXPECT_EQ(tcp[0].address, "10.0.0.1:7000");
  EXPECT_EQ(tcp[1].address, "[::1]:7001");
  EXPECT_EQ(tcp[1].host, "::1");
  EXPECT_EQ(tcp[2].address, "10.0.0.1:7002");
  EXPECT_EQ(tcp[3].port, 7010);
  // Hosts are numbered per table: equal hosts, equal ids (what the scattering compares).
  EXPECT_EQ(tcp[0].host_id, tcp[2].host_id);
  EXPECT_EQ(tcp[0].host_id, t->rooms()[0].ws[0].host_id);
  EXPECT_NE(tcp[0].host_id, tcp[1].host_id);
  EXPECT_EQ(t->rooms()[0].ws[0].json, "\"ws://10.0.0.1:7001/ws\"");
}

TEST(DispatcherRouteTable, ParseEndpoint) {
  std::string host;
  uint16_t port = 0;
  EXPECT_TRUE(parseEndpoint("1.2.3.4:80", &host, &port));
  EXPECT_EQ(host, "1.2.3.4");
  EXPECT_EQ(port, 80);
  EXPECT_TRUE(parseEndpoint("room.example:65535", &host, &port));
  for (const char* bad : {"1.2.3.4", "1.2.3.4:", ":80", "1.2.3.4:0", "1.2.3.4:65536", "::1:80",
                          "[::1]", "[]:80", "h:8x"}) {
    EXPECT_FALSE(parseEndpoint(bad, &host, &port)) << bad;
  }
}

TEST(DispatcherRouteTable, RegionsAndRetry) {
  auto list = rooms(4, "east");
  auto west = rooms(3, "west");
  for (auto& r : west)
    r.id = "w" + r.id;
  list.insert(list.end(), west.begin(), west.end());
  auto t = RouteTable::build(list, {});
  RouteTable::Scratch s;
  std::vector<uint32_t> out;
  auto regions = [&] {
    std::vector<std::string> r;
    for (uint32_t i : out)
      r.push_back(t->rooms()[i].region);
    return r;
  };
  for (int u = 0; u < 50; ++u) {
    const uint64_t c = clientHash("a", std::to_string(u));
    t->route(c, "east", 0, &s, &out);
    EXPECT_EQ(regions(), std::vector<std::string>(4, "east"));
    t->route(c, "east", 1, &s, &out);
    // max_rooms 8: 4 own first, then the 3 others.
    EXPECT_EQ(regions(),
              (std::vector<std::string>{"east", "east", "east", "east", "west", "west", "west"}));
    const std::string sticky = t->rooms()[out[0]].id;
    EXPECT_EQ(sticky, first(*t, c, "east"));  // retry keeps the sticky room first
    t->route(c, "east", 2, &s, &out);
    EXPECT_EQ(regions(),
              (std::vector<std::string>{"west", "west", "west", "east", "east", "east", "east"}));
    // No region, or one without rooms: every room is own.
    t->route(c, "", 0, &s, &out);
    EXPECT_EQ(out.size(), 7u);
    t->route(c, "north", 0, &s, &out);
    EXPECT_EQ(out.size(), 7u);
  }
  // A default region stands in for a client without one.
  auto d = RouteTable::build(list, {.default_region = "west"});
  d->route(1, "", 0, &s, &out);
  ASSERT_EQ(out.size(), 3u);
  for (uint32_t i : out)
    EXPECT_EQ(d->rooms()[i].region, "west");
  // max_rooms with both groups: ceil(max/2) of the first, then the second, then the rest.
  auto small = RouteTable::build(list, {.max_rooms = 5});
  small->route(7, "east", 1, &s, &out);
  std::vector<std::string> r;
  for (uint32_t i : out)
    r.push_back(small->rooms()[i].region);
  EXPECT_EQ(r, (std::vector<std::string>{"east", "east", "east", "west", "west"}));
}

// Three hosts, one room each, every room on the same three ports: the flat list alternates
// hosts and ports wherever the candidates left allow it.
TEST(DispatcherScatter, ConsecutiveEntriesDifferInIpAndPort) {
  std::vector<ServiceInstance> list;
  for (int h = 0; h < 3; ++h) {
    ServiceInstance in;
    in.id = "room" + std::to_string(h);
    in.region = "r";
    const std::string host = "10.0.0." + std::to_string(h + 1);
    in.endpoints["tcp"] = host + ":7000";
    in.endpoints["tcp.1"] = host + ":443";
    in.endpoints["tcp.2"] = host + ":80";
    list.push_back(in);
  }
  auto t = RouteTable::build(list, {});
  RouteTable::Scratch s;
  std::vector<uint32_t> order;
  std::vector<const RouteEndpoint*> cand, out;
  std::map<std::string, int> first_host, first_port;
  for (int u = 0; u < 3000; ++u) {
    const uint64_t c = clientHash("a", std::to_string(u));
    t->route(c, "", 0, &s, &order);
    scatterEndpoints(*t, order, c, EndpointKind::Tcp, 16, &cand, &out);
    ASSERT_EQ(out.size(), 9u);
    std::set<std::string> seen;
    for (size_t k = 0; k < out.size(); ++k) {
      EXPECT_TRUE(seen.insert(out[k]->address).second) << "repeated " << out[k]->address;
      if (k == 0) continue;
      // Greedy: with 3 hosts x 3 ports the first 8 entries alternate both; the last one
      // takes what is left, which may share one of them.
      if (k < 8) {
        EXPECT_NE(out[k]->host, out[k - 1]->host) << u << " at " << k;
        EXPECT_NE(out[k]->port, out[k - 1]->port) << u << " at " << k;
      } else {
        EXPECT_TRUE(out[k]->host != out[k - 1]->host || out[k]->port != out[k - 1]->port);
      }
    }
    // The first three tries cover three IPs and three ports.
    EXPECT_EQ((std::set<std::string>{out[0]->host, out[1]->host, out[2]->host}).size(), 3u);
    EXPECT_EQ((std::set<uint16_t>{out[0]->port, out[1]->port, out[2]->port}).size(), 3u);
    // The sticky room's endpoint comes first.
    EXPECT_EQ(out[0]->host, t->rooms()[order[0]].tcp[0].host);
    ++first_host[out[0]->host];
    ++first_port[std::to_string(out[0]->port)];
  }
  // First choices spread over every IP and every port.
  ASSERT_EQ(first_host.size(), 3u);
  ASSERT_EQ(first_port.size(), 3u);
  for (const auto& [p, n] : first_port)
    EXPECT_GT(n, 700) << p;
}

// More than 64 hosts: ids past the bit masks fall back to scanning the list; same rules.
TEST(DispatcherScatter, ManyHosts) {
  std::vector<ServiceInstance> list;
  for (int h = 0; h < 80; ++h) {
    ServiceInstance in;
    in.id = "room" + std::to_string(h);
    const std::string host = "10.0." + std::to_string(h / 200) + "." + std::to_string(h % 200);
    in.endpoints["tcp"] = host + ":7000";
    in.endpoints["tcp.1"] = host + ":443";
    list.push_back(in);
  }
  auto t = RouteTable::build(list, {.max_rooms = 64});
  RouteTable::Scratch s;
  std::vector<uint32_t> order;
  std::vector<const RouteEndpoint*> cand, out;
  for (int u = 0; u < 200; ++u) {
    const uint64_t c = clientHash("a", std::to_string(u));
    t->route(c, "", 0, &s, &order);
    ASSERT_EQ(order.size(), 64u);
    scatterEndpoints(*t, order, c, EndpointKind::Tcp, 16, &cand, &out);
    ASSERT_EQ(out.size(), 16u);
    std::set<std::string> seen;
    for (size_t k = 0; k < out.size(); ++k) {
      EXPECT_TRUE(seen.insert(out[k]->address).second);
      if (k > 0) {
        EXPECT_NE(out[k]->host_id, out[k - 1]->host_id);
        EXPECT_NE(out[k]->port, out[k - 1]->port);
      }
    }
    // The first two: two hosts and both ports; the third may not reuse the first two hosts
    // (a new host exists) though it must reuse a port.
    EXPECT_NE(out[2]->host_id, out[0]->host_id);
  }
}

// One host only: consecutive entries at least differ in port; two rooms on one port of two
// hosts: they differ in IP.
TEST(DispatcherScatter, FallsBackToWhatTheRoomsAllow) {
  ServiceInstance a;
  a.id = "a";
  a.endpoints = {{"tcp", "10.0.0.1:1000"}, {"tcp.1", "10.0.0.1:1001"}};
  ServiceInstance b = a;
  b.id = "b";
  b.endpoints = {{"tcp", "10.0.0.1:2000"}, {"tcp.1", "10.0.0.1:2001"}};
  auto t = RouteTable::build({a, b}, {});
  RouteTable::Scratch s;
  std::vector<uint32_t> order;
  std::vector<const RouteEndpoint*> cand, out;
  t->route(99, "", 0, &s, &order);
  scatterEndpoints(*t, order, 99, EndpointKind::Tcp, 16, &cand, &out);
  ASSERT_EQ(out.size(), 4u);
  for (size_t k = 1; k < out.size(); ++k)
    EXPECT_NE(out[k]->port, out[k - 1]->port);

  ServiceInstance c, d;
  c.id = "c";
  c.endpoints = {{"tcp", "10.0.0.1:1000"}};
  d.id = "d";
  d.endpoints = {{"tcp", "10.0.0.2:1000"}};
  t = RouteTable::build({c, d}, {});
  t->route(5, "", 0, &s, &order);
  scatterEndpoints(*t, order, 5, EndpointKind::Tcp, 1, &cand, &out);
  ASSERT_EQ(out.size(), 1u);  // the limit
  scatterEndpoints(*t, order, 5, EndpointKind::Ws, 16, &cand, &out);
  EXPECT_TRUE(out.empty());  // no ws endpoints
}

TEST(DispatcherScatter, AnAddressSharedByRoomWorkersIsListedOnce) {
  // push-room --workers 3: three instances, one tcp address (SO_REUSEPORT); a second room.
  std::vector<ServiceInstance> list;
  for (int w = 0; w < 3; ++w) {
    ServiceInstance in;
    in.id = "room-w" + std::to_string(w);
    in.endpoints = {{"tcp", "10.0.0.1:7000"}, {"ws", "10.0.0.1:7001"}};
    list.push_back(in);
  }
  list.push_back(room("other", "", "10.0.0.2", 7000));
  auto t = RouteTable::build(list, {});
  RouteTable::Scratch s;
  std::vector<uint32_t> order;
  std::vector<const RouteEndpoint*> cand, out;
  for (uint64_t client = 0; client < 50; ++client) {
    t->route(client, "", 0, &s, &order);
    ASSERT_EQ(order.size(), 4u);
    for (EndpointKind kind : {EndpointKind::Tcp, EndpointKind::Ws}) {
      scatterEndpoints(*t, order, client, kind, 16, &cand, &out);
      ASSERT_EQ(out.size(), 2u) << "client " << client;
      EXPECT_NE(out[0]->address, out[1]->address);
      // The sticky room's address stays first.
      const RouteRoom& sticky = t->rooms()[order[0]];
      EXPECT_EQ(out[0]->address,
                (kind == EndpointKind::Tcp ? sticky.tcp : sticky.ws).front().address);
    }
  }
}

Result<RouteQuery> parse(const std::string& target, http::HttpRequest* req) {
  Status st = req->setTarget(target);
  if (!st.isOk()) return st;
  return RouteQuery::parse(*req);
}

TEST(DispatcherRouteQuery, GoodAndBad) {
  {
    http::HttpRequest req;
    auto q = parse("/v1/route?app=a1&user=u%401&net=cellular&region=eu-1&retry=2", &req);
    ASSERT_TRUE(q.isOk()) << q.status();
    EXPECT_EQ(q->app, "a1");
    EXPECT_EQ(q->user, "u@1");
    EXPECT_EQ(q->net, Network::Cellular);
    EXPECT_EQ(q->region, "eu-1");
    EXPECT_EQ(q->retry, 2u);
  }
  {
    http::HttpRequest req;
    auto q = parse("/v1/route?app=a&user=u", &req);
    ASSERT_TRUE(q.isOk());
    EXPECT_EQ(q->net, Network::Unknown);
    EXPECT_EQ(q->retry, 0u);
  }
  const std::string long_user(257, 'x');
  for (const std::string& bad : std::vector<std::string>{
           "/v1/route?user=u", "/v1/route?app=a", "/v1/route?app=&user=u",
           "/v1/route?app=a&user=a%20b", "/v1/route?app=a&user=%C3%A9",
           "/v1/route?app=a&user=" + long_user, "/v1/route?app=a&user=u&net=5g",
           "/v1/route?app=a&user=u&region=a/b", "/v1/route?app=a&user=u&retry=-1",
           "/v1/route?app=a&user=u&retry=1000", "/v1/route?app=a&user=u&retry=101",
           "/v1/route?app=a&user=u&retry=x"}) {
    http::HttpRequest req;
    auto q = parse(bad, &req);
    EXPECT_FALSE(q.isOk()) << bad;
    if (!q.isOk()) {
      EXPECT_EQ(q.status().code(), Code::INVALID_ARGUMENT) << bad;
    }
  }
}

}  // namespace
}  // namespace push::dispatcher
