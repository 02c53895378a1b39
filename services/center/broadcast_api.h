#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/id_generator.h"
#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/http/http_request.h"
#include "common/http/http_responder.h"
#include "services/center/center_options.h"
#include "services/center/rate_limiter.h"

namespace push::net {
class EventLoop;
}
namespace push::queue {
class Producer;
}
namespace push::broadcast {
class BroadcastMessage;
}

namespace push::center {

class SaverClient;

// POST /v1/broadcast: one message to every connection of an app (or of one tag of it),
// published once to queued topic bcast.<app> (broadcastTopic) as a serialized
// push.broadcast.BroadcastMessage (proto/broadcast.proto, the contract rooms decode). Every
// room instance consumes that topic on a channel of its own.
//
// CenterServer authenticates the key and hands the request over with the key's app; then:
//   disabled (options.broadcast.queued empty)  -> 501 {"error": "broadcast is not enabled ..."}
//   the app's broadcast token bucket is empty  -> 429 with Retry-After (unicast's shape)
//   parseBroadcastRequest refuses the body     -> 400 naming the rule
//   the body's "app" is not the key's app      -> `refuse_auth` (CenterServer's uniform 401)
//   -> message id (the center's IdGenerator, as unicast), then the sequence:
//        no saver:        sequenceFor (the id itself);
//        saver, qos 1:    saver's StoreBroadcast appends it to the app's replay log and
//                         assigns the sequence (1, 2, 3, ... per app); saver failing -> 503
//                         {"error": "storage unavailable: ..."}, nothing published;
//        saver, qos 0:    not stored, not in the replay log: sequence 0;
//   -> one PUB to one daemon (round robin over options.broadcast.queued, a connected one first)
//   queued answered OK  -> 200 {"messageId":"…","sequence":"…"} (64-bit numbers as strings,
//                          as /v1/push)
//   anything else (unreachable, timeout, E_PUB_FAILED, overloaded) -> 503 with the reason; the
//      message was not published — or, when the connection broke after sending, may have been:
//      an operator's retry is then a second broadcast with a new id. A qos 1 broadcast saver
//      stored stays in the app's replay log (the 503 says so): clients that reconnect may get
//      it.
//
// Metrics: push_center_broadcasts_total{result="accepted"}, push_center_broadcasts_refused_total
// {reason=disabled|rate_limited|bad_request}, push_center_broadcasts_failed_total
// {reason=unavailable|timeout|overloaded|other|storage}.
//
// Loop-thread only. Destroying it answers requests still waiting for saver or queued 503.
class BroadcastApi {
 public:
  // Answers the request with CenterServer's uniform 401 (and counts it).
  using RefuseAuth = std::function<void(const http::HttpRequest&, http::HttpResponder&)>;

  // `options` must have passed validateBroadcast(); `ids` and `saver` (null: no saver) must
  // outlive this object. One Producer per queued address, none connected yet (the first
  // broadcast connects).
  static Result<std::unique_ptr<BroadcastApi>> create(net::EventLoop& loop,
                                                      const CenterOptions& options,
                                                      IdGenerator& ids, SaverClient* saver);
  ~BroadcastApi();

  bool enabled() const { return !producers_.empty(); }
  // `app` is the index (in options.apps, or AppTable's for apps from ZooKeeper) of the
  // request's API key.
  void handle(size_t app, http::HttpRequest& req, http::HttpResponder r,
              const RefuseAuth& refuse_auth);
  // An app from ZooKeeper at `index` (AppTable): a new one (index == apps known so far,
  // appended) or an edited one (its broadcast bucket reconfigured if its limits changed, kept
  // otherwise; its offline TTL replaced). An app whose topic name is not valid for queued is
  // kept but its broadcasts are answered 400. Indexes are never reused for another app.
  void setApp(size_t index, const CenterOptions::App& app);
  size_t apps() const { return apps_.size(); }
  // Requests waiting for saver's or queued's answer.
  size_t pending() const { return calls_.size(); }
  // Answers every waiting request 503 `why` now (their publishes may still succeed).
  void abandon(std::string_view why);
  // Broadcasts of app index `app` that queued took.
  uint64_t accepted(size_t app) const { return apps_[app].accepted; }

  // The broadcast sequence of message `id` of app index `app` when center has no saver: the
  // id itself (unique across centers, increasing with time up to clock skew). With saver the
  // sequence is saver's dense per-app counter (StoreBroadcast), 0 for qos 0.
  static uint64_t sequenceFor(size_t app, uint64_t id);

 private:
  struct AppState {
    std::string name;
    std::string topic;
    TokenBucket bucket;
    uint64_t accepted = 0;
    // Broadcast TTL when the request gives none (CenterOptions::App::offline_ttl_s).
    uint32_t offline_ttl_s = 0;
    // broadcastTopic(name) is a valid queued topic (always for static apps: validated).
    bool topic_ok = true;
  };
  struct Call;
  BroadcastApi(net::EventLoop& loop, const CenterOptions& options, IdGenerator& ids,
               SaverClient* saver);
  queue::Producer& pickProducer();
  // PUBs `msg` for waiting call `call_id` (in calls_); finish() answers it.
  void publish(uint64_t call_id, const broadcast::BroadcastMessage& msg);
  void finish(uint64_t call_id, const Status& status);

  net::EventLoop& loop_;
  IdGenerator& ids_;
  SaverClient* saver_;  // null: no saver
  const uint32_t max_payload_bytes_;
  std::vector<AppState> apps_;
  std::vector<std::unique_ptr<queue::Producer>> producers_;
  size_t next_producer_ = 0;
  std::unordered_map<uint64_t, std::shared_ptr<Call>> calls_;
  uint64_t next_call_id_ = 1;
  Liveness liveness_;
};

}  // namespace push::center
