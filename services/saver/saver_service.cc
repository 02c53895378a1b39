#include "services/saver/saver_service.h"

#include <memory>
#include <string>
#include <utility>

#include "common/base/json_writer.h"
#include "common/rpc/controller.h"
#include "services/saver/broadcast_log.h"
#include "services/saver/inbox_store.h"
#include "services/saver/recovery.h"
#include "services/saver/saver_metrics.h"
#include "services/saver/write_behind.h"

namespace push::saver {

namespace pb = google::protobuf;

namespace {

// MySQL keeps app and user in VARBINARY(255) (mysql_schema.cc).
constexpr size_t kMaxName = 255;

Status checkName(const std::string& value, const char* what) {
  if (value.empty()) return invalidArgument(std::string(what) + " is required");
  if (value.size() > kMaxName) {
    return invalidArgument(std::string(what) + " is longer than 255 bytes");
  }
  return Status::ok();
}

// Answers a call: its status on the controller, counted, then `done`.
void finish(pb::RpcController* controller, pb::Closure* done, const Status& st) {
  if (st.isOk()) {
    saverMetrics().calls_ok.inc();
  } else {
    (st.code() == Code::INVALID_ARGUMENT ? saverMetrics().calls_invalid
                                         : saverMetrics().calls_failed)
        .inc();
    static_cast<rpc::Controller*>(controller)->setStatus(st);
  }
  done->Run();
}

}  // namespace

SaverService::SaverService(InboxStore& inbox, BroadcastLog& broadcasts, WriteBehind* write_behind,
                           Recovery* recovery, Limits limits)
    : inbox_(inbox),
      broadcasts_(broadcasts),
      write_behind_(write_behind),
      recovery_(recovery),
      limits_(limits) {}

void SaverService::Store(pb::RpcController* controller, const StoreRequest* request,
                         StoreResponse* response, pb::Closure* done) {
  size_t pairs = 0;
  for (const StoreItem& item : request->items()) {
    Status st = checkName(item.message().app(), "message.app");
    if (st.isOk() && item.message().id() == 0) st = invalidArgument("message.id is required");
    for (const std::string& user : item.users()) {
      if (st.isOk()) st = checkName(user, "users[]");
    }
    if (!st.isOk()) return finish(controller, done, st);
    pairs += static_cast<size_t>(item.users_size());
  }
  if (pairs > limits_.max_users_per_store) {
    return finish(
        controller, done,
        invalidArgument("a Store holds at most " + std::to_string(limits_.max_users_per_store) +
                        " (message, user) pairs; this one " + std::to_string(pairs)));
  }
  inbox_.store(*request, [this, controller, request, response,
                          done](Result<InboxStore::StoreCounts> r) {
    if (!r.isOk()) return finish(controller, done, r.status());
    response->set_stored(r->stored);
    response->set_duplicates(r->duplicates);
    response->set_expired(r->expired);
    saverMetrics().stored.inc(r->stored);
    saverMetrics().duplicates.inc(r->duplicates);
    saverMetrics().expired.inc(r->expired);
    if (write_behind_ && r->stored + r->duplicates > 0) {
      for (const StoreItem& item : request->items()) {
        const int64_t expire_ms = inbox_.expireMs(item.message());
        const std::string bytes = item.message().SerializeAsString();
        for (const std::string& user : item.users()) {
          write_behind_->stored(item.message().app(), user, item.message().id(), expire_ms, bytes);
        }
      }
    }
    finish(controller, done, Status::ok());
  });
}

void SaverService::Load(pb::RpcController* controller, const LoadRequest* request,
                        LoadResponse* response, pb::Closure* done) {
  Status st = checkName(request->app(), "app");
  if (st.isOk()) st = checkName(request->user(), "user");
  if (!st.isOk()) return finish(controller, done, st);
  inbox_.load(*request, [this, controller, request, response, done](Result<InboxStore::Loaded> r) {
    if (!r.isOk()) return finish(controller, done, r.status());
    *response = std::move(r->response);
    saverMetrics().loaded.inc(static_cast<uint64_t>(response->messages_size()));
    saverMetrics().dropped_max_loads.inc(response->dropped());
    saverMetrics().expired.inc(response->expired());
    if (write_behind_) {
      for (uint64_t id : r->removed)
        write_behind_->removed(request->app(), request->user(), id);
    }
    finish(controller, done, Status::ok());
  });
}

void SaverService::Ack(pb::RpcController* controller, const AckRequest* request,
                       AckResponse* response, pb::Closure* done) {
  for (const AckItem& item : request->items()) {
    Status st = checkName(item.app(), "app");
    if (st.isOk()) st = checkName(item.user(), "user");
    if (!st.isOk()) return finish(controller, done, st);
  }
  inbox_.ack(*request, [this, controller, request, response, done](Result<uint32_t> r) {
    if (!r.isOk()) return finish(controller, done, r.status());
    response->set_removed(*r);
    saverMetrics().acked.inc(*r);
    if (write_behind_) {
      for (const AckItem& item : request->items()) {
        for (uint64_t id : item.message_ids())
          write_behind_->removed(item.app(), item.user(), id);
      }
    }
    finish(controller, done, Status::ok());
  });
}

void SaverService::StoreBroadcast(pb::RpcController* controller,
                                  const StoreBroadcastRequest* request,
                                  StoreBroadcastResponse* response, pb::Closure* done) {
  const broadcast::BroadcastMessage& b = request->broadcast();
  Status st = checkName(b.app(), "broadcast.app");
  if (st.isOk() && b.message_id() == 0) st = invalidArgument("broadcast.message_id is required");
  if (!st.isOk()) return finish(controller, done, st);
  broadcasts_.store(b, [this, controller, request, response, done](Result<uint64_t> seq) {
    if (!seq.isOk()) return finish(controller, done, seq.status());
    response->set_sequence(*seq);
    saverMetrics().broadcasts_stored.inc();
    if (write_behind_) {
      broadcast::BroadcastMessage copy = request->broadcast();
      copy.set_sequence(*seq);
      write_behind_->broadcast(copy);
    }
    finish(controller, done, Status::ok());
  });
}

void SaverService::LoadBroadcasts(pb::RpcController* controller,
                                  const LoadBroadcastsRequest* request,
                                  LoadBroadcastsResponse* response, pb::Closure* done) {
  Status st = checkName(request->app(), "app");
  if (!st.isOk()) return finish(controller, done, st);
  broadcasts_.load(*request, [controller, response, done](Result<LoadBroadcastsResponse> r) {
    if (!r.isOk()) return finish(controller, done, r.status());
    *response = std::move(r).value();
    saverMetrics().broadcasts_loaded.inc(static_cast<uint64_t>(response->broadcasts_size()));
    finish(controller, done, Status::ok());
  });
}

void SaverService::Stats(pb::RpcController* controller, const StatsRequest*,
                         StatsResponse* response, pb::Closure* done) {
  *response = stats();
  finish(controller, done, Status::ok());
}

StatsResponse SaverService::stats() const {
  StatsResponse s;
  const SaverMetrics& m = saverMetrics();
  s.set_stored(m.stored.value());
  s.set_loaded(m.loaded.value());
  s.set_acked(m.acked.value());
  s.set_dropped_max_loads(m.dropped_max_loads.value());
  s.set_expired(m.expired.value());
  s.set_broadcasts_stored(m.broadcasts_stored.value());
  s.set_broadcast_cache_hits(broadcasts_.stats().cache_hits);
  if (write_behind_) {
    s.set_write_behind_backlog(write_behind_->backlog());
    s.set_write_behind_oldest_ms(static_cast<uint64_t>(write_behind_->oldestAgeMs()));
    s.set_write_behind_dropped(write_behind_->dropped());
    s.set_mysql_ok(write_behind_->healthy());
  }
  if (recovery_) {
    s.set_recoveries(recovery_->recoveries());
    s.set_recovered_messages(recovery_->recoveredMessages());
    s.set_redis_ok(recovery_->redisHealthy());
  } else {
    s.set_redis_ok(true);
  }
  return s;
}

void SaverService::writeStatus(JsonWriter& w) const {
  StatsResponse s = stats();
  w.key("stored").uint64(s.stored());
  w.key("loaded").uint64(s.loaded());
  w.key("acked").uint64(s.acked());
  w.key("dropped_max_loads").uint64(s.dropped_max_loads());
  w.key("expired").uint64(s.expired());
  w.key("broadcasts_stored").uint64(s.broadcasts_stored());
  w.key("broadcast_cache_hits").uint64(s.broadcast_cache_hits());
  w.key("mysql").boolean(write_behind_ != nullptr);
  w.key("write_behind_backlog").uint64(s.write_behind_backlog());
  w.key("write_behind_oldest_ms").uint64(s.write_behind_oldest_ms());
  w.key("write_behind_dropped").uint64(s.write_behind_dropped());
  w.key("write_behind_coalesced").uint64(write_behind_ ? write_behind_->coalesced() : 0);
  w.key("mysql_rows_purged").uint64(write_behind_ ? write_behind_->purged() : 0);
  w.key("mysql_ok").boolean(s.mysql_ok());
  w.key("redis_ok").boolean(s.redis_ok());
  w.key("recoveries").uint64(s.recoveries());
  w.key("recovered_messages").uint64(s.recovered_messages());
  w.key("recovering").boolean(recovery_ && recovery_->running());
}

}  // namespace push::saver
