#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "services/center/center_options.h"

namespace push::net {
class EventLoop;
}
namespace push::queue {
class Consumer;
class Message;
}  // namespace push::queue
namespace push::center_task {
class CenterTask;
}

namespace push::center {

class Deliverer;
class JobStore;
class SaverClient;

// Large multicast jobs, the working side: consumes queued topic center.tasks, channel workers
// (every center does: chunks are spread over them, and a chunk whose center died is delivered
// again to another one), one push.center_task.CenterTask per message, at most
// options.jobs.worker_max_in_flight at once. Per chunk:
//   JobStore::beginChunk  Wait (job still publishing)  -> REQ after 200 ms (no backoff)
//                         Drop (job failed / expired)  -> FIN, nothing delivered
//                         Counted (a redelivery)       -> FIN
//                         Deliver                      -> expired message? count its users
//                                                         failed; else (qos 1 with saver)
//                                                         SaverClient::store, then
//                                                         Deliverer::deliver
//   saver's Store failed                               -> nothing delivered; REQ after
//       requeue_delay (queued redelivers the chunk, here or to another center) until the
//       chunk's max_attempts-th delivery: then its users count as failed
//   register lookup failed, or a room did not answer   -> REQ after requeue_delay (another
//       center may take it), until the chunk's max_attempts-th delivery: then its users count
//       as failed (offline/delivered for those that did get it)
//   JobStore::recordChunk (counted once per chunk)     -> FIN; Redis failed -> REQ
// A chunk delivered twice reaches each client twice with the same message id; the SDK drops
// the second (its dedup by message id). Redis failing at beginChunk -> REQ.
//
// Users without a session count as `stored` when the chunk's message was stored (qos 1 with
// saver), else `offline`.
//
// Metrics: push_center_job_chunks_total{result=done|requeued|dropped|duplicate|bad},
// push_center_job_targets_total{status=delivered|offline|stored|failed}.
//
// stop(done): the consumer stops (CLS, then waits for chunks in flight). Destroying the worker
// leaves unanswered chunks to queued, which gives them to another center after msg_timeout.
// Loop-thread only.
class JobWorker {
 public:
  // `store`, `deliverer` and `saver` (null: no saver, nothing stored) must outlive this
  // object. Starts consuming at once.
  static Result<std::unique_ptr<JobWorker>> create(net::EventLoop& loop,
                                                   const CenterOptions& options, JobStore& store,
                                                   Deliverer& deliverer, SaverClient* saver);
  ~JobWorker();

  void stop(std::function<void()> done);
  // The apps this center serves now, when they come from ZooKeeper (CenterServer::applyApps):
  // a chunk of an app not in the set is dropped. Until the first call with live apps, chunks
  // are requeued (the apps are not known yet). Static apps: set at creation.
  void setApps(std::set<std::string, std::less<>> names);
  // Chunks handed to this worker so far and answered (FIN) after being counted.
  uint64_t chunksDone() const { return chunks_done_; }

 private:
  JobWorker(net::EventLoop& loop, const CenterOptions& options, JobStore& store,
            Deliverer& deliverer, SaverClient* saver);
  void onMessage(queue::Message message);
  void deliver(std::shared_ptr<queue::Message> message,
               std::shared_ptr<center_task::CenterTask> task);
  void requeue(queue::Message& message, std::chrono::milliseconds delay);

  net::EventLoop& loop_;
  const CenterOptions::Jobs options_;
  std::set<std::string, std::less<>> apps_;
  bool apps_known_ = false;  // static apps, or a first list from ZooKeeper came
  JobStore& store_;
  Deliverer& deliverer_;
  SaverClient* saver_;  // null: no saver
  std::unique_ptr<queue::Consumer> consumer_;
  uint64_t chunks_done_ = 0;
  Liveness liveness_;
};

}  // namespace push::center
