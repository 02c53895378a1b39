#include "services/coordinator/coordinator_service.h"

#include <set>
#include <utility>

#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/rpc/controller.h"
#include "services/common/user_kicker.h"

namespace push::coord {

namespace {

// One Upstream call: answered when its last item completes.
struct UpstreamCall {
  UpstreamBatchResponse* response;
  google::protobuf::Closure* done;
  size_t remaining;
};

metrics::Counter& ignoredEvents() {
  static metrics::Counter& c = metrics::Registry::global().counter(
      "push_coordinator_events_ignored_total",
      "Session events of unknown apps or of apps that do not subscribe to them.");
  return c;
}

}  // namespace

CoordinatorService::CoordinatorService(AppDispatcher::Shared& shared) : shared_(shared) {}

CoordinatorService::~CoordinatorService() {
  liveness_.kill();
  failPendingKicks();
}

void CoordinatorService::failPendingKicks() {
  std::map<uint64_t, PendingKick> waiting;
  waiting.swap(pending_kicks_);
  for (auto& [id, kick] : waiting) {
    static_cast<rpc::Controller*>(kick.controller)->setStatus(unavailable("coordinator stopping"));
    kick.done->Run();
  }
}

void CoordinatorService::Kick(google::protobuf::RpcController* controller,
                              const room::KickRequest* request, KickUserResponse* response,
                              google::protobuf::Closure* done) {
  auto* c = static_cast<rpc::Controller*>(controller);
  if (!kicker_) {
    c->setStatus(
        Status(Code::FAILED_PRECONDITION,
               "this coordinator has no register configured (CoordinatorConfig.register)"));
    return done->Run();
  }
  if (request->app().empty() || request->user().empty()) {
    c->setStatus(invalidArgument("kick: app and user are required"));
    return done->Run();
  }
  if (request->reason().size() > service::UserKicker::kMaxReasonBytes) {
    c->setStatus(invalidArgument("kick: reason over " +
                                 std::to_string(service::UserKicker::kMaxReasonBytes) + " bytes"));
    return done->Run();
  }
  ++kicks_;
  const uint64_t id = ++next_kick_;
  pending_kicks_.emplace(id, PendingKick{controller, response, done});
  kicker_->kick(*request, [this, alive = liveness_.token(), id](
                              const Status& st, const service::UserKicker::Outcome& outcome) {
    if (!alive.alive()) return;
    auto it = pending_kicks_.find(id);
    if (it == pending_kicks_.end()) return;
    PendingKick kick = it->second;
    pending_kicks_.erase(it);
    if (st.isOk()) {
      kick.response->set_kicked(outcome.kicked);
      kick.response->set_rooms(outcome.rooms);
      kick.response->set_rooms_failed(outcome.rooms_failed);
    } else {
      static_cast<rpc::Controller*>(kick.controller)->setStatus(unavailable(st.toString()));
    }
    kick.done->Run();
  });
}

void CoordinatorService::Upstream(google::protobuf::RpcController*,
                                  const UpstreamBatchRequest* request,
                                  UpstreamBatchResponse* response,
                                  google::protobuf::Closure* done) {
  const int n = request->items_size();
  for (int i = 0; i < n; ++i)
    response->add_results();
  // +1 while items are being handed out: items refused at once complete inside the loop.
  auto* call = new UpstreamCall{response, done, static_cast<size_t>(n) + 1};
  auto finishOne = [call] {
    if (--call->remaining > 0) return;
    google::protobuf::Closure* d = call->done;
    delete call;
    d->Run();
  };
  for (int i = 0; i < n; ++i) {
    const UpstreamItem& item = request->items(i);
    UpstreamResult* slot = response->mutable_results(i);
    if (item.app().empty()) {
      slot->set_code(client::ERROR_BAD_FRAME);
      slot->set_message("upstream item without an app");
      finishOne();
      continue;
    }
    auto it = apps_.find(item.app());
    if (it == apps_.end()) {
      slot->set_code(client::ERROR_UNKNOWN_APP);
      slot->set_message("app '" + item.app() + "' has no upstream webhook on this coordinator");
      LOG_EVERY_SEC(Warn, Coordinator, 5, "upstream for unknown app '{}'", item.app());
      finishOne();
      continue;
    }
    it->second->upstream(item, [slot, finishOne](UpstreamResult r) {
      *slot = std::move(r);
      finishOne();
    });
  }
  finishOne();
}

void CoordinatorService::Events(google::protobuf::RpcController*,
                                const SessionEventsRequest* request,
                                SessionEventsResponse* response, google::protobuf::Closure* done) {
  rpc::DoneGuard guard(done);
  uint32_t queued = 0, ignored = 0, dropped = 0;
  for (const SessionEvent& e : request->events()) {
    auto it = apps_.find(e.app());
    bool was_dropped = false;
    if (it == apps_.end() || !it->second->event(e, &was_dropped)) {
      ++ignored;
    } else if (was_dropped) {
      ++dropped;
    } else {
      ++queued;
    }
  }
  if (ignored) ignoredEvents().inc(ignored);
  response->set_queued(queued);
  response->set_ignored(ignored);
  response->set_dropped(dropped);
}

Status CoordinatorService::updateApp(AppSettings settings) {
  RETURN_IF_ERROR(settings.validate("app " + settings.name));
  auto it = apps_.find(settings.name);
  if (it != apps_.end()) {
    it->second->update(std::move(settings));
    return Status::ok();
  }
  const std::string name = settings.name;
  apps_.emplace(name, std::make_unique<AppDispatcher>(shared_, std::move(settings)));
  return Status::ok();
}

bool CoordinatorService::removeApp(const std::string& name) {
  auto it = apps_.find(name);
  if (it == apps_.end()) return false;
  // Taken out of the map first: the items it answers as it goes may not find it.
  std::unique_ptr<AppDispatcher> gone = std::move(it->second);
  apps_.erase(it);
  AppDispatcher* raw = gone.get();
  finishing_.emplace(raw, std::move(gone));
  // The callback is posted by the dispatcher and never runs after it is destroyed
  // (removeAll, the destructor), so `this` and `raw` are alive when it runs.
  raw->retire([this, raw] { finishing_.erase(raw); });
  return true;
}

size_t CoordinatorService::setApps(const std::vector<AppSettings>& apps) {
  std::set<std::string> listed;
  size_t skipped = 0;
  for (const AppSettings& a : apps) {
    listed.insert(a.name);
    const AppDispatcher* known = app(a.name);
    if (known && known->settings() == a) continue;
    Status st = updateApp(a);
    if (!st.isOk()) {
      ++skipped;
      LOG_WARN(Coordinator, "app {} not applied: {}", a.name, st.toString());
    } else {
      LOG_INFO(Coordinator, "app {} {}: webhook {}{} by type, events {}", a.name,
               known ? "updated" : "added", a.upstream_url.empty() ? "(none)" : a.upstream_url,
               a.upstream_urls.empty() ? "" : " +" + std::to_string(a.upstream_urls.size()),
               a.events_url.empty() ? "(none)" : a.events_url);
    }
  }
  std::vector<std::string> gone;
  for (const auto& [name, dispatcher] : apps_)
    if (!listed.contains(name)) gone.push_back(name);
  for (const std::string& name : gone)
    removeApp(name);  // logs
  return skipped;
}

void CoordinatorService::removeAll() {
  failPendingKicks();  // a stop's grace bounds kicks too (the kicker's answer is then ignored)
  std::map<std::string, std::unique_ptr<AppDispatcher>> gone;
  gone.swap(apps_);
  gone.clear();
  std::map<AppDispatcher*, std::unique_ptr<AppDispatcher>> finishing;
  finishing.swap(finishing_);
  finishing.clear();
}

const AppDispatcher* CoordinatorService::app(const std::string& name) const {
  auto it = apps_.find(name);
  return it == apps_.end() ? nullptr : it->second.get();
}

void CoordinatorService::writeStatus(JsonWriter& out) const {
  out.key("apps").beginArray();
  for (const auto& [name, app] : apps_) {
    out.beginObject();
    out.key("name").string(name);
    out.key("running").uint64(app->running());
    out.key("queued").uint64(app->queued());
    out.key("events_waiting").uint64(app->eventsWaiting());
    out.endObject();
  }
  out.endArray();
  out.key("apps_finishing").uint64(finishing_.size());
}

}  // namespace push::coord
