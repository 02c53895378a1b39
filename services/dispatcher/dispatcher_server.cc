#include "services/dispatcher/dispatcher_server.h"

#include <charconv>
#include <chrono>

#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/discovery/service_watcher.h"
#include "common/discovery/zk_client.h"
#include "common/http/admin.h"
#include "common/http/router.h"
#include "common/net/event_loop.h"
#include "services/common/admin_port.h"

namespace push::dispatcher {
namespace {

struct Metrics {
  metrics::Counter& requests;
  metrics::Counter& ok;
  metrics::Counter& bad;
  metrics::Counter& no_rooms;
  metrics::Gauge& rooms;
  metrics::Gauge& skipped;
  metrics::Counter& updates;
  metrics::Histogram& latency;

  static Metrics& get() {
    static Metrics m = [] {
      auto& r = metrics::Registry::global();
      constexpr const char* kAnswers = "Route answers by HTTP status.";
      return Metrics{
          r.counter("push_dispatcher_requests_total", "GET /v1/route requests."),
          r.counter("push_dispatcher_answers_total", kAnswers, R"(status="200")"),
          r.counter("push_dispatcher_answers_total", kAnswers, R"(status="400")"),
          r.counter("push_dispatcher_answers_total", kAnswers, R"(status="503")"),
          r.gauge("push_dispatcher_rooms", "Routable rooms in the current table."),
          r.gauge("push_dispatcher_rooms_skipped",
                  "Registered rooms left out (full, weight 0, no or bad endpoint)."),
          r.counter("push_dispatcher_table_updates_total", "Room lists applied."),
          r.histogram("push_dispatcher_route_seconds",
                      "Time to compute and write one route answer.", metrics::latencyBuckets()),
      };
    }();
    return m;
  }
};

void appendUint(std::string* out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

void appendList(std::string* out, const std::vector<RouteEndpoint>& eps, uint32_t first) {
  out->push_back('[');
  const size_t n = eps.size();
  for (size_t k = 0; k < n; ++k) {
    if (k) out->push_back(',');
    out->append(eps[(first + k) % n].json);
  }
  out->push_back(']');
}

void appendFlat(std::string* out, const std::vector<const RouteEndpoint*>& eps) {
  out->push_back('[');
  for (size_t k = 0; k < eps.size(); ++k) {
    if (k) out->push_back(',');
    out->append(eps[k]->json);
  }
  out->push_back(']');
}

}  // namespace

Result<std::unique_ptr<DispatcherServer>> DispatcherServer::create(net::EventLoop& loop,
                                                                   DispatcherOptions options) {
  if (options.routing.max_rooms == 0) return invalidArgument("routing.max_rooms: 0");
  if (options.max_endpoints == 0) return invalidArgument("max_endpoints: 0");
  Metrics::get();  // registered before the first scrape
  return std::unique_ptr<DispatcherServer>(new DispatcherServer(loop, std::move(options)));
}

DispatcherServer::DispatcherServer(net::EventLoop& loop, DispatcherOptions options)
    : loop_(loop), options_(std::move(options)) {
  table_ = RouteTable::build({}, options_.routing);
  body_.reserve(4096);
}

DispatcherServer::~DispatcherServer() {
  stop();
}

Status DispatcherServer::start() {
  if (started_) return Status::ok();
  started_ = true;
  http::Router router;
  RETURN_IF_ERROR(router.add(
      "GET", "/v1/route",
      [this](http::HttpRequest& req, http::HttpResponder r) { handleRoute(req, std::move(r)); }));
  const http::AdminInfo admin_info{.health = [this] { return health(); },
                                   .status_json = [this] { return statusJson(); }};
  http::mountAdmin(router, admin_info);
  ASSIGN_OR_RETURN(http_, http::HttpServer::listen(loop_, options_.http, std::move(router)));
  address_ = http_->address();
  ASSIGN_OR_RETURN(admin_, service::startAdmin(loop_, options_.admin, admin_info));
  if (admin_) admin_address_ = admin_->address();
  if (options_.zk_hosts.empty()) {
    setRooms(options_.static_rooms);
    LOG_INFO(Dispatcher, "route API on {}: {} static rooms", address_.toString(),
             options_.static_rooms.size());
    return Status::ok();
  }
  discovery::ZkClient::Options zo;
  zo.hosts = options_.zk_hosts;
  zo.root = options_.zk_root;
  zo.session_timeout = options_.zk_session_timeout;
  ASSIGN_OR_RETURN(zk_, discovery::ZkClient::create(loop_, zo));
  ASSIGN_OR_RETURN(watcher_,
                   discovery::ServiceWatcher::create(
                       *zk_, "room", [this](const std::vector<discovery::ServiceInstance>& rooms) {
                         setRooms(rooms);
                       }));
  watcher_->start();
  LOG_INFO(Dispatcher, "route API on {}: rooms from ZooKeeper {} {}", address_.toString(),
           options_.zk_hosts, options_.zk_root);
  return Status::ok();
}

void DispatcherServer::stop() {
  http_.reset();
  admin_.reset();
  watcher_.reset();  // before the client it holds a reference to
  zk_.reset();
}

void DispatcherServer::setRooms(const std::vector<discovery::ServiceInstance>& instances) {
  std::shared_ptr<const RouteTable> next = RouteTable::build(instances, options_.routing);
  if (next->rooms().size() != table_->rooms().size() || table_updates_ == 0) {
    LOG_INFO(Dispatcher, "rooms: {} routable, {} skipped", next->rooms().size(),
             next->skipped().size());
  }
  for (const auto& s : next->skipped()) {
    LOG_DEBUG(Dispatcher, "room {} skipped: {}", s.id, s.reason);
  }
  table_ = std::move(next);
  ++table_updates_;
  Metrics& m = Metrics::get();
  m.rooms.set(static_cast<int64_t>(table_->rooms().size()));
  m.skipped.set(static_cast<int64_t>(table_->skipped().size()));
  m.updates.inc();
}

uint32_t DispatcherServer::heartbeatFor(Network net) const {
  switch (net) {
    case Network::Wifi:
      return options_.heartbeat.wifi_s;
    case Network::Cellular:
      return options_.heartbeat.cellular_s;
    case Network::Ethernet:
      return options_.heartbeat.ethernet_s;
    case Network::Unknown:
      break;
  }
  return options_.heartbeat.unknown_s;
}

int DispatcherServer::answer(const RouteQuery& q, std::string* body) {
  body->clear();
  // Held for the request: a table swapped in meanwhile cannot free the rooms written from.
  std::shared_ptr<const RouteTable> table = table_;
  const uint64_t client = clientHash(q.app, q.user);
  table->route(client, q.region, q.retry, &scratch_, &order_);
  if (order_.empty()) {
    body->append(R"({"error":"no room available"})");
    return 503;
  }
  body->append(R"({"rooms":[)");
  for (size_t k = 0; k < order_.size(); ++k) {
    const RouteRoom& room = table->rooms()[order_[k]];
    if (k) body->push_back(',');
    body->append(R"({"id":)").append(room.id_json);
    body->append(R"(,"region":)").append(room.region_json);
    body->append(R"(,"tcp":)");
    appendList(body, room.tcp, endpointRotation(client, room, EndpointKind::Tcp));
    body->append(R"(,"ws":)");
    appendList(body, room.ws, endpointRotation(client, room, EndpointKind::Ws));
    body->push_back('}');
  }
  body->append(R"(],"tcp":)");
  scatterEndpoints(*table, order_, client, EndpointKind::Tcp, options_.max_endpoints, &candidates_,
                   &flat_);
  appendFlat(body, flat_);
  body->append(R"(,"ws":)");
  scatterEndpoints(*table, order_, client, EndpointKind::Ws, options_.max_endpoints, &candidates_,
                   &flat_);
  appendFlat(body, flat_);
  body->append(R"(,"heartbeat_s":)");
  appendUint(body, heartbeatFor(q.net));
  body->append(R"(,"ttl_s":)");
  appendUint(body, options_.ttl_s);
  body->push_back('}');
  return 200;
}

void DispatcherServer::handleRoute(http::HttpRequest& req, http::HttpResponder responder) {
  const auto begin = std::chrono::steady_clock::now();
  Metrics& m = Metrics::get();
  m.requests.inc();
  ++requests_;
  Result<RouteQuery> q = RouteQuery::parse(req);
  if (!q.isOk()) {
    m.bad.inc();
    responder.respondError(400, q.status().message());
    return;
  }
  const int status = answer(*q, &body_);
  (status == 200 ? m.ok : m.no_rooms).inc();
  if (status == 200) ++answered_ok_;
  // One copy of the reused buffer: HttpResponse owns its body.
  responder.respond(http::HttpResponse::json(status, std::string(body_)));
  m.latency.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count());
}

Status DispatcherServer::health() const {
  if (!started_) return unavailable("not started");
  if (watcher_ && watcher_->updates() == 0) return unavailable("rooms not read yet");
  if (table_->rooms().empty()) return unavailable("no room available");
  return Status::ok();
}

std::string DispatcherServer::statusJson() const {
  JsonWriter w(1024);
  w.beginObject();
  w.key("source").string(zk_ ? "zookeeper" : "static");
  if (zk_) {
    w.key("zookeeper").beginObject();
    w.key("hosts").string(options_.zk_hosts);
    w.key("root").string(options_.zk_root);
    w.key("connected").boolean(zk_->connected());
    w.endObject();
  }
  w.key("requests").uint64(requests_);
  w.key("answered").uint64(answered_ok_);
  w.key("table_updates").uint64(table_updates_);
  w.key("rooms").beginArray();
  for (const RouteRoom& room : table_->rooms()) {
    w.beginObject();
    w.key("id").string(room.id);
    w.key("region").string(room.region);
    w.key("weight").uint64(room.weight);
    w.key("load").number(room.load);
    w.key("effective_weight").number(room.effective_weight);
    w.key("tcp").beginArray();
    for (const auto& ep : room.tcp)
      w.string(ep.address);
    w.endArray();
    w.key("ws").beginArray();
    for (const auto& ep : room.ws)
      w.string(ep.address);
    w.endArray();
    w.endObject();
  }
  w.endArray();
  w.key("skipped").beginArray();
  for (const auto& s : table_->skipped()) {
    w.beginObject().key("id").string(s.id).key("reason").string(s.reason).endObject();
  }
  w.endArray();
  w.endObject();
  return w.take();
}

}  // namespace push::dispatcher
