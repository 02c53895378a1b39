#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "common/base/id_generator.h"
#include "common/base/liveness.h"
#include "common/http/http_request.h"
#include "common/http/http_responder.h"
#include "services/center/app_table.h"
#include "services/center/center_options.h"
#include "services/center/deliverer.h"
#include "services/center/push_request.h"

namespace push::center {

class JobApi;
class SaverClient;

// POST /v1/push and POST /v1/push/batch, once CenterServer has authenticated the API key.
//
// A push (parsePushRequest; 400 names the rule; over options.push.max_targets targets, with
// jobs enabled, it becomes a job: JobApi) gets a message id (IdGenerator) and goes to the
// Deliverer (register lookup, rooms' DeliverBatch). With saver, a QoS 1 push is stored first,
// for every distinct user of its targets, and delivered only once saver has it (store, then
// send); saver failing answers 503 and delivers nothing. The answer:
//   {"messageId":"…","results":[{"user":…,"device":…,"status":"delivered|offline|stored|error",
//    "connections":n}],"delivered":n,"offline":n[,"stored":n]}
// (users not online are "stored" when saver has the message, else "offline"; "error": a room
// that did not answer). The lookup failing answers 503.
//
// A batch (parsePushBatchRequest: up to options.push.max_batch_pushes pushes of one app, their
// targets together at most options.push.max_targets, no jobs) takes one token of the app's
// rate limit before its body is read (a bad body costs one, as a push does), is checked whole
// (400 naming the push), then takes one more token per further push (429 with Retry-After for
// the whole batch, nothing sent; a batch over the app's burst can never pass: 400), then every push
// goes as above, each with its own message id, in the same loop turn (the Deliverer sends one
// turn's deliveries to a room together). One answer when all are done: 200
//   {"results":[<each push's answer as above, or {"messageId":"…","error":"…"} when its
//    storage or lookup failed>],"delivered":n,"offline":n[,"stored":n],"failed":n}
// with the target counts summed and "failed" the pushes that got an error.
//
// Metrics (as before the split): push_center_pushes_total, push_center_targets_total,
// push_center_target_results_total{status}, push_center_storage_failed_total, and
// push_center_push_batches_total.
//
// `ids`, `deliverer`, `jobs` and `saver` (null: no saver) must outlive this object. Destroying
// it answers the requests still waiting 503. Loop-thread only.
class PushApi {
 public:
  // Answers the request with CenterServer's uniform 401 (and counts it).
  using RefuseAuth = std::function<void(const http::HttpRequest&, http::HttpResponder&)>;
  // Takes `n` tokens of the app's rate limit; false when it answered 429 itself.
  using TakeRate = std::function<bool(AppTable::App& app, size_t n, http::HttpResponder& r)>;

  PushApi(const CenterOptions& options, IdGenerator& ids, SaverClient* saver, Deliverer& deliverer,
          JobApi& jobs);
  ~PushApi();
  PushApi(const PushApi&) = delete;
  PushApi& operator=(const PushApi&) = delete;

  // POST /v1/push for the key's `app`, its rate limit already taken.
  void handlePush(AppTable::App& app, http::HttpRequest& req, http::HttpResponder r,
                  const RefuseAuth& refuse_auth);
  // POST /v1/push/batch for the key's `app`, one token of its rate limit already taken (before
  // the body was read); takes one more per push beyond the first through `take_rate`.
  void handleBatch(AppTable::App& app, http::HttpRequest& req, http::HttpResponder r,
                   const RefuseAuth& refuse_auth, const TakeRate& take_rate);

  // Requests waiting for saver, register or rooms.
  size_t pending() const { return calls_.size(); }
  // Answers every waiting request 503 `why` now (deliveries under way may still happen).
  void abandon(std::string_view why);
  // Pushes accepted (a batch counts each of its pushes).
  uint64_t pushes() const { return pushes_; }

 private:
  struct Call;
  struct Part;

  // Starts push `index` of `call`: message id, store (saver, QoS 1), deliver.
  void start(const std::shared_ptr<Call>& call, size_t index, const AppTable::App& app,
             ParsedPush&& push);
  void deliver(const std::shared_ptr<Call>& call, size_t index, Message message,
               std::vector<ParsedPush::Target> targets);
  // Push `index` is done (answered into its Part); the call is answered once all are.
  void partDone(const std::shared_ptr<Call>& call);
  void respond(Call& call);

  const CenterOptions& options_;
  IdGenerator& ids_;
  SaverClient* saver_;
  Deliverer& deliverer_;
  JobApi& jobs_;
  std::unordered_map<uint64_t, std::shared_ptr<Call>> calls_;
  uint64_t next_call_id_ = 1;
  uint64_t pushes_ = 0;
  Liveness liveness_;
};

}  // namespace push::center
