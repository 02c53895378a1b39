#include "services/center/center_server.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string_view>
#include <unordered_map>

#include "common/base/clock.h"
#include "common/base/json_reader.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/http/admin.h"
#include "common/http/json.h"
#include "common/net/event_loop.h"
#include "common/rpc/controller.h"
#include "proto/center.pb.h"
#include "proto/config.pb.h"
#include "proto/room.pb.h"

namespace push::center {

namespace {

struct CenterMetrics {
  metrics::Registry& r = metrics::Registry::global();
  metrics::Counter& pushes = r.counter("push_center_pushes_total", "Push requests accepted.");
  metrics::Counter& targets =
      r.counter("push_center_targets_total", "Push targets (users + devices).");
  metrics::Counter& delivered = r.counter("push_center_target_results_total",
                                          "Push target outcomes.", R"(status="delivered")");
  metrics::Counter& offline =
      r.counter("push_center_target_results_total", "Push target outcomes.", R"(status="offline")");
  metrics::Counter& errors =
      r.counter("push_center_target_results_total", "Push target outcomes.", R"(status="error")");
  metrics::Counter& rate_limited =
      r.counter("push_center_rate_limited_total", "Requests answered 429.");
  metrics::Counter& unauthorized =
      r.counter("push_center_unauthorized_total", "Requests answered 401 or 403.");
};
CenterMetrics& centerMetrics() {
  static CenterMetrics* m = new CenterMetrics();
  return *m;
}

// Names travel in protobuf `string` fields: printable, 1..128 bytes, valid UTF-8.
bool validName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return isValidUtf8(s);
}

// POST /v1/push body -> PushRequest. Hand-written on JsonReader: protobuf's JSON mapping
// cost ~40k instructions per request here (the API's hot path). Accepts the field names of
// the protobuf JSON mapping (lowerCamelCase and the original); unknown fields are refused,
// like parseJsonBody does; null means absent.
Status parsePushRequest(std::string_view body, center::PushRequest* out) {
  JsonReader r(body);
  RETURN_IF_ERROR(r.beginObject());
  std::string key, value;
  while (r.nextKey(&key)) {
    if (r.isNull()) continue;
    if (key == "app") {
      RETURN_IF_ERROR(r.readString(out->mutable_app()));
    } else if (key == "payload") {
      RETURN_IF_ERROR(r.readString(out->mutable_payload()));
    } else if (key == "payloadBase64" || key == "payload_base64") {
      RETURN_IF_ERROR(r.readString(out->mutable_payload_base64()));
    } else if (key == "users") {
      RETURN_IF_ERROR(r.beginArray());
      while (r.nextElement())
        RETURN_IF_ERROR(r.readString(out->add_users()));
    } else if (key == "devices") {
      RETURN_IF_ERROR(r.beginArray());
      while (r.nextElement()) {
        center::PushTarget* t = out->add_devices();
        RETURN_IF_ERROR(r.beginObject());
        std::string k;
        while (r.nextKey(&k)) {
          if (r.isNull()) continue;
          if (k == "user") {
            RETURN_IF_ERROR(r.readString(t->mutable_user()));
          } else if (k == "device") {
            RETURN_IF_ERROR(r.readString(t->mutable_device()));
          } else {
            return invalidArgument("devices: unknown field '" + k + "'");
          }
        }
      }
    } else if (key == "qos") {
      uint64_t v;
      RETURN_IF_ERROR(r.readUint(&v, UINT32_MAX));
      out->set_qos(static_cast<uint32_t>(v));
    } else if (key == "ttl") {
      uint64_t v;
      RETURN_IF_ERROR(r.readUint(&v, UINT32_MAX));
      out->set_ttl(static_cast<uint32_t>(v));
    } else {
      return invalidArgument("unknown field '" + key + "' in the push request");
    }
  }
  return r.finish();
}

bool decodeBase64(const std::string& in, std::string* out) {
  if (in.size() % 4 != 0) return false;
  out->resize(in.size() / 4 * 3);
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return false;
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out->resize(static_cast<size_t>(n) - pad);
  return true;
}

// "Bearer <key>" -> key; empty when absent or malformed.
std::string bearerKey(const http::HttpRequest& req) {
  auto h = req.header("Authorization");
  if (!h) return "";
  std::string_view v = *h;
  if (v.size() < 8 || !http::equalsIgnoreCase(v.substr(0, 7), "Bearer ")) return "";
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ')
    v.remove_prefix(1);
  return std::string(v);
}

}  // namespace

struct CenterServer::AppState {
  CenterOptions::App config;
  TokenBucket bucket;
  uint64_t pushes = 0;
};

// One POST /v1/push in flight.
struct CenterServer::PushCall {
  http::HttpResponder responder;
  center::PushRequest request;
  Message message;
  // Targets in request order: (user, device); device empty = every device.
  std::vector<std::pair<std::string, std::string>> targets;
  std::vector<uint32_t> connections;           // per target
  std::vector<bool> failed;                    // per target: a room it needed did not answer
  std::vector<std::vector<Session>> sessions;  // per unique user
  std::vector<uint32_t> user_index;            // per target: index into `sessions`
  size_t rooms_pending = 0;
};

Result<CenterOptions> CenterOptions::fromConfig(const config::CenterConfig& c,
                                                const ConfigFile* file) {
  // Each check names the field (with file:line:column when there is a file); 0 = default.
  auto range = [&](std::string_view field, int64_t value, int64_t min, int64_t max) -> Status {
    if (value == 0 || (value >= min && value <= max)) return Status::ok();
    const std::string why = std::to_string(value) + " is out of range [" + std::to_string(min) +
                            ", " + std::to_string(max) + "]";
    return file ? file->fieldError(field, why) : invalidArgument(std::string(field) + ": " + why);
  };
  RETURN_IF_ERROR(range("node_id", c.node_id(), 0, IdGenerator::kMaxNode));
  RETURN_IF_ERROR(range("max_targets_per_request", c.max_targets_per_request(), 1, 1'000'000));
  // A message must fit a client frame (64 KiB by default, with room for the Push envelope).
  RETURN_IF_ERROR(range("max_payload_bytes", c.max_payload_bytes(), 1, 60 * 1024));
  CenterOptions o;
  o.http = http::HttpServer::Options::fromConfig(c.http());
  o.admin_address = c.admin().listen().address();
  if (c.http().listen().address().empty()) o.http.address = "127.0.0.1:8080";
  std::set<std::string> keys;
  for (const auto& a : c.apps()) {
    if (!validName(a.name())) return invalidArgument("apps: bad app name '" + a.name() + "'");
    CenterOptions::App app;
    app.name = a.name();
    for (const auto& k : a.api_keys()) {
      if (k.size() < 16)
        return invalidArgument("apps[" + a.name() + "].api_keys: keys need 16+ bytes");
      if (!keys.insert(k).second)
        return invalidArgument("apps[" + a.name() + "]: an API key is used twice");
      app.api_keys.push_back(k);
    }
    if (a.push_rate_per_s()) app.rate_per_s = a.push_rate_per_s();
    app.burst = a.push_burst() ? a.push_burst() : 2 * app.rate_per_s;
    o.apps.push_back(std::move(app));
  }
  if (o.apps.empty()) return invalidArgument("center: no apps configured");
  ASSIGN_OR_RETURN(o.register_client, reg::RegisterClient::Options::fromConfig(c.register_()));
  ASSIGN_OR_RETURN(o.room_channel, rpc::Channel::Options::fromConfig(c.room_channel()));
  o.node_id = c.node_id();
  if (c.max_targets_per_request()) o.max_targets = c.max_targets_per_request();
  if (c.max_payload_bytes()) o.max_payload_bytes = c.max_payload_bytes();
  return o;
}

Result<std::unique_ptr<CenterServer>> CenterServer::create(net::EventLoop& loop,
                                                           CenterOptions options) {
  std::unique_ptr<CenterServer> center(new CenterServer(loop, std::move(options)));
  ASSIGN_OR_RETURN(center->ids_, IdGenerator::create(center->options_.node_id));
  ASSIGN_OR_RETURN(center->register_,
                   reg::RegisterClient::create(loop, center->options_.register_client));
  return center;
}

CenterServer::CenterServer(net::EventLoop& loop, CenterOptions options)
    : loop_(loop), options_(std::move(options)) {
  for (const auto& a : options_.apps) {
    apps_.push_back(std::make_unique<AppState>(AppState{a, TokenBucket(a.rate_per_s, a.burst)}));
  }
  rooms_ = std::make_unique<RoomPool>(loop_, options_.room_channel);
  (void)centerMetrics();
}

CenterServer::~CenterServer() {
  *alive_ = false;
}

Status CenterServer::start() {
  http::Router router;
  RETURN_IF_ERROR(router.add(
      "POST", "/v1/push",
      [this](http::HttpRequest& req, http::HttpResponder r) { handlePush(req, std::move(r)); }));
  RETURN_IF_ERROR(router.add(
      "GET", "/v1/apps/{app}/users/{user}",
      [this](http::HttpRequest& req, http::HttpResponder r) { handleGetUser(req, std::move(r)); }));
  RETURN_IF_ERROR(router.add(
      "POST", "/v1/apps/{app}/users/{user}/kick",
      [this](http::HttpRequest& req, http::HttpResponder r) { handleKick(req, std::move(r)); }));
  http::mountAdmin(router, {.health = [] { return Status::ok(); },
                            .status_json = [this] { return statusJson(); }});
  ASSIGN_OR_RETURN(http_, http::HttpServer::listen(loop_, options_.http, std::move(router)));
  address_ = http_->address();
  if (!options_.admin_address.empty()) {
    http::Router admin;
    http::mountAdmin(admin, {.health = [] { return Status::ok(); },
                             .status_json = [this] { return statusJson(); }});
    http::HttpServer::Options ho;
    ho.address = options_.admin_address;
    ASSIGN_OR_RETURN(admin_, http::HttpServer::listen(loop_, ho, std::move(admin)));
    admin_address_ = admin_->address();
  }
  LOG_INFO(Center, "center API on {} ({} apps)", address_.toString(), apps_.size());
  return Status::ok();
}

void CenterServer::stop(std::function<void()> done) {
  *alive_ = false;
  if (http_) http_->close();
  http_ = nullptr;
  if (admin_) admin_->close();
  admin_ = nullptr;
  rooms_.reset();
  register_.reset();
  loop_.post(std::move(done));
}

CenterServer::AppState* CenterServer::authorize(const std::string& app, http::HttpRequest& req,
                                                http::HttpResponder& r) {
  const std::string key = bearerKey(req);
  if (key.empty()) {
    centerMetrics().unauthorized.inc();
    http::HttpResponse resp =
        http::HttpResponse::error(401, "missing 'Authorization: Bearer <api key>'");
    resp.setHeader("WWW-Authenticate", "Bearer");
    r.respond(std::move(resp));
    return nullptr;
  }
  AppState* found = nullptr;
  for (auto& a : apps_) {
    if (a->config.name == app) found = a.get();
  }
  if (!found) {
    r.respondError(404, "unknown app '" + app + "'");
    return nullptr;
  }
  for (const auto& k : found->config.api_keys) {
    if (k.size() == key.size() && CRYPTO_memcmp(k.data(), key.data(), k.size()) == 0) return found;
  }
  centerMetrics().unauthorized.inc();
  for (auto& a : apps_) {
    for (const auto& k : a->config.api_keys) {
      if (k == key) {
        r.respondError(403, "this API key belongs to another app");
        return nullptr;
      }
    }
  }
  http::HttpResponse resp = http::HttpResponse::error(401, "wrong API key");
  resp.setHeader("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  r.respond(std::move(resp));
  return nullptr;
}

bool CenterServer::rateLimited(AppState& app, http::HttpResponder& r) {
  const int64_t now = loop_.nowMs();
  if (app.bucket.tryTake(now)) return false;
  centerMetrics().rate_limited.inc();
  const int64_t wait_ms = app.bucket.waitMs(now);
  http::HttpResponse resp = http::HttpResponse::error(
      429, "rate limit of app '" + app.config.name + "' exceeded (" +
               std::to_string(static_cast<int64_t>(app.config.rate_per_s)) + " requests/s)");
  resp.setHeader("Retry-After", std::to_string(std::max<int64_t>(1, (wait_ms + 999) / 1000)));
  r.respond(std::move(resp));
  return true;
}

void CenterServer::handlePush(http::HttpRequest& req, http::HttpResponder r) {
  auto call = std::make_shared<PushCall>();
  if (Status st = parsePushRequest(req.body(), &call->request); !st.isOk()) {
    return r.respondError(400, st.message());
  }
  const center::PushRequest& p = call->request;
  if (p.app().empty()) return r.respondError(400, "'app' is required");
  AppState* app = authorize(p.app(), req, r);
  if (!app) return;
  if (rateLimited(*app, r)) return;
  const size_t count = static_cast<size_t>(p.users_size() + p.devices_size());
  if (count == 0) return r.respondError(400, "give 'users' or 'devices'");
  if (count > options_.max_targets) {
    return r.respondError(400, std::to_string(count) + " targets: at most " +
                                   std::to_string(options_.max_targets) + " per request");
  }
  if (!p.payload().empty() && !p.payload_base64().empty()) {
    return r.respondError(400, "give 'payload' or 'payloadBase64', not both");
  }
  std::string payload = p.payload();
  if (!p.payload_base64().empty() && !decodeBase64(p.payload_base64(), &payload)) {
    return r.respondError(400, "'payloadBase64' is not valid base64");
  }
  if (payload.size() > options_.max_payload_bytes) {
    return r.respondError(400, "payload of " + std::to_string(payload.size()) + " bytes: at most " +
                                   std::to_string(options_.max_payload_bytes));
  }
  const uint32_t qos = p.has_qos() ? p.qos() : 1;
  if (qos > 1) return r.respondError(400, "'qos' must be 0 or 1");
  if (p.ttl() > 30 * 86400) return r.respondError(400, "'ttl' is at most 30 days (2592000 s)");
  // Duplicate targets are dropped; the set is needed only when there are several (the
  // common unicast request has one target and allocates nothing for this).
  std::set<std::pair<std::string_view, std::string_view>> seen;
  call->targets.reserve(count);
  for (const auto& u : p.users()) {
    if (!validName(u)) return r.respondError(400, "bad user '" + u + "' (1..128 printable bytes)");
    if (count == 1 || seen.emplace(u, "").second) call->targets.emplace_back(u, "");
  }
  for (const auto& d : p.devices()) {
    if (!validName(d.user()) || !validName(d.device())) {
      return r.respondError(400,
                            "each of 'devices' needs a user and a device (1..128 printable bytes)");
    }
    if (count == 1 || seen.emplace(d.user(), d.device()).second) {
      call->targets.emplace_back(d.user(), d.device());
    }
  }
  call->message.set_id(ids_->next());
  call->message.set_app(p.app());
  call->message.set_payload(std::move(payload));
  call->message.set_qos(qos);
  call->message.set_created_ms(Clock::system().wallMillis());
  call->message.set_ttl_s(p.ttl());
  call->connections.assign(call->targets.size(), 0);
  call->failed.assign(call->targets.size(), false);
  ++app->pushes;
  ++pushes_;
  centerMetrics().pushes.inc();
  centerMetrics().targets.inc(call->targets.size());

  // One lookup key per distinct user (several devices of a user share it).
  std::vector<reg::UserKey> keys;
  keys.reserve(call->targets.size());
  std::unordered_map<std::string_view, uint32_t> key_of_user;
  call->user_index.reserve(call->targets.size());
  for (const auto& [user, device] : call->targets) {
    uint32_t index = static_cast<uint32_t>(keys.size());
    if (call->targets.size() > 1) {
      auto [it, added] = key_of_user.emplace(user, index);
      if (!added) index = it->second;
    }
    call->user_index.push_back(index);
    if (index == keys.size()) {
      reg::UserKey& k = keys.emplace_back();
      k.set_app(p.app());
      k.set_user(user);
    }
  }
  call->responder = std::move(r);
  auto alive = alive_;
  register_->lookup(
      std::move(keys),
      [this, alive, call](const Status& st, std::vector<std::vector<Session>>&& found) {
        if (!*alive) return;  // the responder answers 500 as it is dropped
        if (!st.isOk()) {
          LOG_EVERY_SEC(Warn, Center, 1, "register lookup failed: {}", st.toString());
          return call->responder.respondError(503, "session lookup failed: " + st.toString());
        }
        call->sessions = std::move(found);
        deliver(call);
      });
}

struct CenterServer::RoomBatch {
  room::DeliverBatchRequest request;
  // Per item: the push it belongs to and, per target of the item, the push's target index.
  std::vector<std::pair<std::shared_ptr<PushCall>, std::vector<size_t>>> owners;
};

void CenterServer::deliver(std::shared_ptr<PushCall> call) {
  // Group targets by room: each room gets one item with every target it holds. Most pushes
  // reach one or a few rooms, so rooms are found by a linear scan until there are many.
  struct RoomItem {
    std::string_view address;
    room::DeliverRequest request;
    std::vector<size_t> targets;
  };
  std::vector<RoomItem> per_room;
  std::unordered_map<std::string_view, size_t> room_index;  // used past kLinearRooms
  constexpr size_t kLinearRooms = 8;
  auto itemFor = [&](std::string_view address) -> RoomItem& {
    if (per_room.size() <= kLinearRooms) {
      for (RoomItem& item : per_room) {
        if (item.address == address) return item;
      }
      if (per_room.size() == kLinearRooms) {
        for (size_t i = 0; i < per_room.size(); ++i)
          room_index.emplace(per_room[i].address, i);
      }
    } else if (auto it = room_index.find(address); it != room_index.end()) {
      return per_room[it->second];
    }
    if (per_room.size() >= kLinearRooms) room_index.emplace(address, per_room.size());
    RoomItem& item = per_room.emplace_back();
    item.address = address;
    return item;
  };
  std::vector<std::string_view> rooms;  // of one target, without repeats
  for (size_t t = 0; t < call->targets.size(); ++t) {
    const auto& [user, device] = call->targets[t];
    rooms.clear();
    for (const Session& s : call->sessions[call->user_index[t]]) {
      if (!device.empty() && s.device() != device) continue;
      if (std::find(rooms.begin(), rooms.end(), s.room_address()) == rooms.end()) {
        rooms.push_back(s.room_address());
      }
    }
    for (std::string_view address : rooms) {
      RoomItem& item = itemFor(address);
      room::DeliverTarget* target = item.request.add_targets();
      target->set_user(user);
      target->set_device(device);
      item.targets.push_back(t);
    }
  }
  if (per_room.empty()) return finishPush(call);
  call->rooms_pending = per_room.size();
  for (RoomItem& item : per_room) {
    auto& batch = pending_deliveries_[std::string(item.address)];
    if (!batch) batch = std::make_unique<RoomBatch>();
    room::DeliverRequest* out = batch->request.add_items();
    *out = std::move(item.request);
    *out->mutable_message() = call->message;
    batch->owners.emplace_back(call, std::move(item.targets));
  }
  if (!deliver_flush_scheduled_) {
    deliver_flush_scheduled_ = true;
    loop_.runBeforePoll([this, alive = alive_] {
      if (*alive) flushDeliveries();
    });
  }
}

void CenterServer::flushDeliveries() {
  deliver_flush_scheduled_ = false;
  auto batches = std::move(pending_deliveries_);
  pending_deliveries_.clear();
  auto alive = alive_;
  for (auto& [address, batch] : batches) {
    struct Rpc {
      rpc::Controller controller;
      room::DeliverBatchResponse response;
      std::unique_ptr<RoomBatch> batch;
      std::string address;
    };
    auto rpc = std::make_shared<Rpc>();
    rpc->batch = std::move(batch);
    rpc->address = address;
    auto finish = [this, alive, rpc] {
      if (!*alive) return;
      const auto& owners = rpc->batch->owners;
      const bool ok = rpc->controller.status().isOk() &&
                      rpc->response.items_size() == static_cast<int>(owners.size());
      if (!ok) {
        LOG_EVERY_SEC(Warn, Center, 1, "DeliverBatch to room {} failed: {}", rpc->address,
                      rpc->controller.status().toString());
      }
      for (size_t k = 0; k < owners.size(); ++k) {
        const auto& [call, index] = owners[k];
        const room::DeliverResponse* r = ok ? &rpc->response.items(static_cast<int>(k)) : nullptr;
        const bool item_ok = r && r->connections_size() == static_cast<int>(index.size());
        for (size_t j = 0; j < index.size(); ++j) {
          if (item_ok) {
            call->connections[index[j]] += r->connections(static_cast<int>(j));
          } else {
            call->failed[index[j]] = true;
          }
        }
        if (--call->rooms_pending == 0) finishPush(call);
      }
    };
    rpc::Channel* channel = rooms_->get(address);
    if (!channel) {
      rpc->controller.setStatus(unavailable("bad room address"));
      finish();
      continue;
    }
    room::Room_Stub(channel).DeliverBatch(&rpc->controller, &rpc->batch->request, &rpc->response,
                                          rpc::newCallback(finish));
  }
}

void CenterServer::finishPush(std::shared_ptr<PushCall> call) {
  // The JSON is written straight from the call: {"messageId":"…","results":[{"user":…,
  // "device":…,"status":…,"connections":n}],"delivered":n,"offline":n}.
  std::string json;
  json.reserve(64 + 64 * call->targets.size());
  json += "{\"messageId\":\"";
  json += std::to_string(call->message.id());
  json += "\",\"results\":[";
  uint32_t delivered = 0, offline = 0;
  for (size_t t = 0; t < call->targets.size(); ++t) {
    const auto& [user, device] = call->targets[t];
    const uint32_t connections = call->connections[t];
    const char* status;
    if (connections > 0) {
      status = "delivered";
      ++delivered;
    } else if (call->failed[t]) {
      status = "error";
    } else {
      status = "offline";
      ++offline;
    }
    if (t) json += ',';
    json += "{\"user\":";
    appendJsonString(&json, user);
    if (!device.empty()) {
      json += ",\"device\":";
      appendJsonString(&json, device);
    }
    json += ",\"status\":\"";
    json += status;
    json += '"';
    if (connections) {
      json += ",\"connections\":";
      json += std::to_string(connections);
    }
    json += '}';
  }
  const size_t errors = call->targets.size() - delivered - offline;
  centerMetrics().delivered.inc(delivered);
  centerMetrics().offline.inc(offline);
  if (errors) centerMetrics().errors.inc(errors);
  json += "],\"delivered\":";
  json += std::to_string(delivered);
  json += ",\"offline\":";
  json += std::to_string(offline);
  json += '}';
  call->responder.respond(200, std::move(json), "application/json");
}

void CenterServer::handleGetUser(http::HttpRequest& req, http::HttpResponder r) {
  const std::string app(req.pathParam("app").value_or(""));
  const std::string user(req.pathParam("user").value_or(""));
  AppState* state = authorize(app, req, r);
  if (!state) return;
  if (rateLimited(*state, r)) return;
  if (!validName(user)) return r.respondError(400, "bad user");
  std::vector<reg::UserKey> keys(1);
  keys[0].set_app(app);
  keys[0].set_user(user);
  auto alive = alive_;
  auto responder = std::make_shared<http::HttpResponder>(std::move(r));
  register_->lookup(
      std::move(keys),
      [alive, responder, app, user](const Status& st, std::vector<std::vector<Session>>&& found) {
        if (!*alive) return;
        if (!st.isOk())
          return responder->respondError(503, "session lookup failed: " + st.toString());
        center::UserResponse out;
        out.set_app(app);
        out.set_user(user);
        for (const Session& s : found[0]) {
          center::SessionInfo* info = out.add_sessions();
          info->set_device(s.device());
          info->set_room(s.room_id());
          info->set_since_ms(s.since_ms());
        }
        out.set_online(out.sessions_size() > 0);
        http::respondJson(*responder, 200, out);
      });
}

void CenterServer::handleKick(http::HttpRequest& req, http::HttpResponder r) {
  const std::string app(req.pathParam("app").value_or(""));
  const std::string user(req.pathParam("user").value_or(""));
  AppState* state = authorize(app, req, r);
  if (!state) return;
  if (rateLimited(*state, r)) return;
  if (!validName(user)) return r.respondError(400, "bad user");
  center::KickRequest kick;
  if (!req.body().empty()) {
    if (Status st = http::parseJsonBody(req, &kick); !st.isOk())
      return r.respondError(400, st.message());
  }
  std::vector<reg::UserKey> keys(1);
  keys[0].set_app(app);
  keys[0].set_user(user);
  auto alive = alive_;
  auto responder = std::make_shared<http::HttpResponder>(std::move(r));
  register_->lookup(
      std::move(keys), [this, alive, responder, app, user, kick](
                           const Status& st, std::vector<std::vector<Session>>&& found) {
        if (!*alive) return;
        if (!st.isOk())
          return responder->respondError(503, "session lookup failed: " + st.toString());
        std::set<std::string> rooms;
        for (const Session& s : found[0]) {
          if (kick.device().empty() || s.device() == kick.device()) rooms.insert(s.room_address());
        }
        struct Tally {
          uint32_t kicked = 0;
          size_t pending = 0;
        };
        auto tally = std::make_shared<Tally>();
        tally->pending = rooms.size();
        auto reply = [responder, tally] {
          center::KickResponse out;
          out.set_kicked(tally->kicked);
          http::respondJson(*responder, 200, out);
        };
        if (rooms.empty()) return reply();
        for (const auto& address : rooms) {
          struct Rpc {
            rpc::Controller controller;
            room::KickRequest request;
            room::KickResponse response;
          };
          auto rpc = std::make_shared<Rpc>();
          rpc->request.set_app(app);
          rpc->request.set_user(user);
          rpc->request.set_device(kick.device());
          rpc->request.set_reason(kick.reason());
          auto done = [alive, rpc, tally, reply] {
            if (!*alive) return;
            if (rpc->controller.status().isOk()) tally->kicked += rpc->response.kicked();
            if (--tally->pending == 0) reply();
          };
          rpc::Channel* channel = rooms_->get(address);
          if (!channel) {
            done();
            continue;
          }
          room::Room_Stub(channel).Kick(&rpc->controller, &rpc->request, &rpc->response,
                                        rpc::newCallback(done));
        }
      });
}

std::string CenterServer::statusJson() const {
  std::string out = "{\"address\":\"" + address_.toString() +
                    "\",\"node_id\":" + std::to_string(options_.node_id) +
                    ",\"pid\":" + std::to_string(::getpid()) +
                    ",\"pushes\":" + std::to_string(pushes_) +
                    ",\"rooms\":" + std::to_string(rooms_ ? rooms_->size() : 0) + ",\"apps\":{";
  for (size_t i = 0; i < apps_.size(); ++i) {
    if (i) out += ',';
    out +=
        "\"" + apps_[i]->config.name + "\":{\"pushes\":" + std::to_string(apps_[i]->pushes) + "}";
  }
  return out + "}}";
}

}  // namespace push::center
