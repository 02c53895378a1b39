#include "services/center/job_worker.h"

#include <utility>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/queue/client/consumer.h"
#include "proto/center_task.pb.h"
#include "services/center/deliverer.h"
#include "services/center/job_request.h"
#include "services/center/job_store.h"
#include "services/center/saver_client.h"

namespace push::center {

namespace {

constexpr std::chrono::milliseconds kWaitForPublish{200};

struct WorkerMetrics {
  metrics::Registry& r = metrics::Registry::global();
  static constexpr std::string_view kChunks = "Job chunks this center worked on, by outcome.";
  static constexpr std::string_view kTargets = "Users of job chunks counted, by outcome.";
  metrics::Counter& done = r.counter("push_center_job_chunks_total", kChunks, R"(result="done")");
  metrics::Counter& requeued =
      r.counter("push_center_job_chunks_total", kChunks, R"(result="requeued")");
  metrics::Counter& dropped =
      r.counter("push_center_job_chunks_total", kChunks, R"(result="dropped")");
  metrics::Counter& duplicate =
      r.counter("push_center_job_chunks_total", kChunks, R"(result="duplicate")");
  metrics::Counter& bad = r.counter("push_center_job_chunks_total", kChunks, R"(result="bad")");
  metrics::Counter& delivered =
      r.counter("push_center_job_targets_total", kTargets, R"(status="delivered")");
  metrics::Counter& offline =
      r.counter("push_center_job_targets_total", kTargets, R"(status="offline")");
  metrics::Counter& failed =
      r.counter("push_center_job_targets_total", kTargets, R"(status="failed")");
  metrics::Counter& stored =
      r.counter("push_center_job_targets_total", kTargets, R"(status="stored")");
};
WorkerMetrics& workerMetrics() {
  static WorkerMetrics* m = new WorkerMetrics();
  return *m;
}

}  // namespace

Result<std::unique_ptr<JobWorker>> JobWorker::create(net::EventLoop& loop,
                                                     const CenterOptions& options, JobStore& store,
                                                     Deliverer& deliverer, SaverClient* saver) {
  std::unique_ptr<JobWorker> worker(new JobWorker(loop, options, store, deliverer, saver));
  queue::Consumer::Options o;
  o.topic = std::string(kJobTopic);
  o.channel = std::string(kJobChannel);
  o.nsqd_tcp_addresses = options.broadcast.queued;
  o.max_in_flight = options.jobs.worker_max_in_flight;
  // An unanswered chunk (this center stopped or died) must go to another center, never be
  // finished undelivered.
  o.auto_finish = false;
  o.requeue_delay = options.jobs.requeue_delay;
  o.reconnect_min = std::chrono::milliseconds(100);
  o.reconnect_max = std::chrono::milliseconds(2'000);
  o.connection.msg_timeout = options.jobs.msg_timeout;
  (void)workerMetrics();
  JobWorker* self = worker.get();
  ASSIGN_OR_RETURN(worker->consumer_, queue::Consumer::create(loop, o, [self](queue::Message m) {
                     self->onMessage(std::move(m));
                   }));
  return worker;
}

JobWorker::JobWorker(net::EventLoop& loop, const CenterOptions& options, JobStore& store,
                     Deliverer& deliverer, SaverClient* saver)
    : loop_(loop), options_(options.jobs), store_(store), deliverer_(deliverer), saver_(saver) {
  for (const auto& a : options.apps)
    apps_.insert(a.name);
  apps_known_ = !options.apps.empty();
}

void JobWorker::setApps(std::set<std::string, std::less<>> names) {
  apps_ = std::move(names);
  apps_known_ = true;
}

JobWorker::~JobWorker() {
  liveness_.kill();
  consumer_.reset();
}

void JobWorker::stop(std::function<void()> done) {
  if (!consumer_) return loop_.post(std::move(done));
  consumer_->stop(std::move(done));
}

void JobWorker::requeue(queue::Message& message, std::chrono::milliseconds delay) {
  workerMetrics().requeued.inc();
  message.requeue(delay, /*backoff=*/false);
}

void JobWorker::onMessage(queue::Message message) {
  auto task = std::make_shared<center_task::CenterTask>();
  if (!task->ParseFromString(message.body()) || task->job_id().empty() ||
      task->chunk() >= task->chunks() || task->users().empty()) {
    workerMetrics().bad.inc();
    LOG_EVERY_SEC(Warn, Center, 10, "center.tasks: a message that is no CenterTask chunk");
    message.finish();
    return;
  }
  if (!apps_known_) {
    // Apps from ZooKeeper, not read yet: this center cannot tell; later, or another center.
    return requeue(message, options_.requeue_delay);
  }
  if (!apps_.contains(task->app())) {
    // Every center should know every app; this one cannot deliver for it.
    workerMetrics().bad.inc();
    LOG_EVERY_SEC(Warn, Center, 10, "center.tasks: chunk of job {} for unknown app '{}'",
                  task->job_id(), task->app());
    message.finish();
    return;
  }
  auto msg = std::make_shared<queue::Message>(std::move(message));
  store_.beginChunk(
      task->job_id(), task->chunk(), Clock::system().wallMillis(),
      [this, alive = liveness_.token(), msg, task](Result<JobStore::ChunkAction> action) {
        if (!alive.alive()) return;
        if (!action.isOk()) {
          LOG_EVERY_SEC(Warn, Center, 1, "job store: {}", action.status().toString());
          return requeue(*msg, options_.requeue_delay);
        }
        switch (*action) {
          case JobStore::ChunkAction::Wait:
            return requeue(*msg, kWaitForPublish);
          case JobStore::ChunkAction::Drop:
            workerMetrics().dropped.inc();
            msg->finish();
            return;
          case JobStore::ChunkAction::Counted:
            workerMetrics().duplicate.inc();
            msg->finish();
            return;
          case JobStore::ChunkAction::Deliver:
            return deliver(msg, task);
        }
      });
}

void JobWorker::deliver(std::shared_ptr<queue::Message> msg,
                        std::shared_ptr<center_task::CenterTask> task) {
  auto record = [this, msg, task](const JobStore::ChunkCounts& counts) {
    store_.recordChunk(task->job_id(), task->chunk(), counts, Clock::system().wallMillis(),
                       [this, alive = liveness_.token(), msg, counts](Result<bool> counted) {
                         if (!alive.alive()) return;
                         if (!counted.isOk() && counted.status().code() != Code::NOT_FOUND) {
                           LOG_EVERY_SEC(Warn, Center, 1, "job store: {}",
                                         counted.status().toString());
                           return requeue(*msg, options_.requeue_delay);
                         }
                         if (counted.isOk() && *counted) {
                           ++chunks_done_;
                           workerMetrics().done.inc();
                           workerMetrics().delivered.inc(counts.delivered);
                           workerMetrics().offline.inc(counts.offline);
                           workerMetrics().failed.inc(counts.failed);
                           workerMetrics().stored.inc(counts.stored);
                         } else {
                           workerMetrics().duplicate.inc();
                         }
                         msg->finish();
                       });
  };
  const uint64_t now = static_cast<uint64_t>(Clock::system().wallMillis());
  if (task->expires_ms() != 0 && now >= task->expires_ms()) {
    JobStore::ChunkCounts counts;
    counts.failed = static_cast<uint64_t>(task->users_size());
    return record(counts);
  }
  Message m;
  m.set_id(task->message_id());
  m.set_app(task->app());
  m.set_payload(task->payload());
  m.set_qos(task->qos());
  m.set_created_ms(static_cast<int64_t>(task->created_ms()));
  m.set_ttl_s(task->ttl_s());
  const bool last_try = msg->attempts() >= options_.max_attempts;
  auto send = [this, msg, task, last_try, record](Message m, bool stored) {
    std::vector<ParsedPush::Target> targets;
    targets.reserve(static_cast<size_t>(task->users_size()));
    for (const auto& u : task->users())
      targets.push_back({u, ""});
    deliverer_.deliver(std::move(m), std::move(targets),
                       [this, alive = liveness_.token(), msg, last_try, stored, record](
                           const Status& lookup, Deliverer::Outcome&& outcome) {
                         if (!alive.alive()) return;
                         JobStore::ChunkCounts counts;
                         if (!lookup.isOk()) {
                           if (!last_try) return requeue(*msg, options_.requeue_delay);
                           counts.failed = outcome.targets.size();
                           return record(counts);
                         }
                         for (size_t t = 0; t < outcome.targets.size(); ++t) {
                           counts.connections += outcome.connections[t];
                           if (outcome.connections[t] > 0) {
                             ++counts.delivered;
                           } else if (outcome.failed[t]) {
                             ++counts.failed;
                           } else if (stored) {
                             ++counts.stored;
                           } else {
                             ++counts.offline;
                           }
                         }
                         if (counts.failed > 0 && !last_try)
                           return requeue(*msg, options_.requeue_delay);
                         record(counts);
                       });
  };
  if (!saver_ || m.qos() == 0) return send(std::move(m), false);
  // Store, then send: nothing of the chunk is delivered unless saver has it for every user.
  std::vector<std::string> users(task->users().begin(), task->users().end());
  auto stored_m = std::make_shared<Message>(std::move(m));
  saver_->store(*stored_m, std::move(users),
                [this, alive = liveness_.token(), msg, task, last_try, record, send,
                 stored_m](const Status& st) {
                  if (!alive.alive()) return;
                  if (st.isOk()) return send(std::move(*stored_m), true);
                  LOG_EVERY_SEC(Warn, Center, 1, "job chunk not stored (saver: {}): {}",
                                st.toString(), last_try ? "counted failed" : "requeued");
                  if (!last_try) return requeue(*msg, options_.requeue_delay);
                  JobStore::ChunkCounts counts;
                  counts.failed = static_cast<uint64_t>(task->users_size());
                  record(counts);
                });
}

}  // namespace push::center
