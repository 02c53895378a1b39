#include "services/center/saver_client.h"

#include <algorithm>
#include <utility>

#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/net/inet_address.h"
#include "common/rpc/controller.h"
#include "proto/broadcast.pb.h"
#include "proto/config.pb.h"
#include "proto/saver.pb.h"
#include "proto/session.pb.h"

namespace push::center {

namespace {

struct SaverMetrics {
  metrics::Registry& r = metrics::Registry::global();
  static constexpr std::string_view kCalls = "Saver RPCs center made, by method and result.";
  static constexpr std::string_view kSeconds = "Latency of center's saver RPCs, by method.";
  metrics::Counter& store_ok =
      r.counter("push_center_saver_calls_total", kCalls, R"(method="Store",result="ok")");
  metrics::Counter& store_failed =
      r.counter("push_center_saver_calls_total", kCalls, R"(method="Store",result="failed")");
  metrics::Counter& broadcast_ok =
      r.counter("push_center_saver_calls_total", kCalls, R"(method="StoreBroadcast",result="ok")");
  metrics::Counter& broadcast_failed = r.counter("push_center_saver_calls_total", kCalls,
                                                 R"(method="StoreBroadcast",result="failed")");
  metrics::Histogram& store_seconds = r.histogram("push_center_saver_call_seconds", kSeconds,
                                                  metrics::latencyBuckets(), R"(method="Store")");
  metrics::Histogram& broadcast_seconds =
      r.histogram("push_center_saver_call_seconds", kSeconds, metrics::latencyBuckets(),
                  R"(method="StoreBroadcast")");
  metrics::Counter& stored =
      r.counter("push_center_saver_stored_total",
                "(message, user) pairs saver stored for this center (duplicates and expired "
                "not counted).");
};
SaverMetrics& saverMetrics() {
  static SaverMetrics* m = new SaverMetrics();
  return *m;
}

// Bytes a StoreItem adds around its message and users (field tags and lengths), and a user
// around its name: upper bounds, so a batch never outgrows the request limit.
constexpr size_t kItemOverhead = 16;
constexpr size_t kUserOverhead = 6;

}  // namespace

// One store(): done once every batch holding a part of it answered.
struct SaverClient::Op {
  Message message;
  StoreDone done;
  size_t parts = 0;  // batches holding a part of it, not answered yet
  Status failure;    // the first failure of a part
};

// One StoreRequest being built or sent.
struct SaverClient::Batch {
  saver::StoreRequest request;
  std::vector<std::shared_ptr<Op>> ops;  // each op once, in item order
  size_t users = 0;
  size_t bytes = 0;
};

Result<SaverClient::Options> SaverClient::Options::fromConfig(const config::SaverClientConfig& c) {
  Options o;
  for (const auto& address : c.addresses()) {
    if (Result<net::InetAddress> a = net::InetAddress::parse(address); !a.isOk()) {
      return invalidArgument("saver.addresses: bad address '" + address + "' (numeric host:port)");
    }
    o.addresses.push_back(address);
  }
  o.discover = c.discover();
  if (o.discover && !o.addresses.empty()) {
    return invalidArgument("saver: addresses and discover: true exclude each other");
  }
  ASSIGN_OR_RETURN(o.channel, rpc::Channel::Options::fromConfig(c.channel()));
  if (c.timeout_ms()) o.timeout = std::chrono::milliseconds(c.timeout_ms());
  return o;
}

Result<std::unique_ptr<SaverClient>> SaverClient::create(net::EventLoop& loop, Options options) {
  if (!options.enabled()) return invalidArgument("saver: no addresses");
  std::unique_ptr<SaverClient> client(new SaverClient(loop, std::move(options)));
  ASSIGN_OR_RETURN(client->channel_, rpc::Channel::create(loop, client->options_.channel));
  if (!client->options_.discover) {
    RETURN_IF_ERROR(
        client->channel_->setEndpoints(client->options_.addresses).withContext("saver.addresses"));
  }
  const auto* store = saver::Saver::descriptor()->FindMethodByName("Store");
  client->max_request_bytes_ = client->channel_->maxRequestBodyBytes(store);
  (void)saverMetrics();
  return client;
}

SaverClient::SaverClient(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)) {}

SaverClient::~SaverClient() {
  liveness_.kill();  // the CANCELLED completions of the channel's calls do nothing now
  channel_.reset();
}

void SaverClient::store(const Message& message, std::vector<std::string> users, StoreDone done) {
  if (users.empty()) {
    return loop_.post([alive = liveness_.token(), done = std::move(done)] {
      if (alive.alive()) done(Status::ok());
    });
  }
  auto op = std::make_shared<Op>();
  op->message = message;
  op->done = std::move(done);
  const size_t item_bytes = op->message.ByteSizeLong() + kItemOverhead;
  const size_t max_users = std::max<size_t>(1, options_.max_users_per_call);
  size_t next = 0;
  while (next < users.size()) {
    // A new batch when the open one cannot take this item with at least one user.
    if (batches_.empty() || batches_.back()->users >= max_users ||
        (batches_.back()->users > 0 &&
         batches_.back()->bytes + item_bytes + users[next].size() + kUserOverhead >
             max_request_bytes_)) {
      batches_.push_back(std::make_unique<Batch>());
    }
    Batch& batch = *batches_.back();
    saver::StoreItem* item = batch.request.add_items();
    *item->mutable_message() = op->message;
    batch.bytes += item_bytes;
    batch.ops.push_back(op);
    ++op->parts;
    // At least one user per item, so an item alone over the limit still goes (and fails).
    do {
      batch.bytes += users[next].size() + kUserOverhead;
      item->add_users(std::move(users[next]));
      ++batch.users;
      ++next;
    } while (next < users.size() && batch.users < max_users &&
             batch.bytes + users[next].size() + kUserOverhead <= max_request_bytes_);
  }
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    loop_.runBeforePoll([this, alive = liveness_.token()] {
      if (alive.alive()) flush();
    });
  }
}

void SaverClient::flush() {
  flush_scheduled_ = false;
  auto batches = std::move(batches_);
  batches_.clear();
  for (auto& batch : batches)
    sendStore(std::move(batch));
}

void SaverClient::sendStore(std::unique_ptr<Batch> batch) {
  struct Rpc {
    rpc::Controller controller;
    saver::StoreResponse response;
    std::unique_ptr<Batch> batch;
  };
  auto rpc = std::make_shared<Rpc>();
  rpc->batch = std::move(batch);
  rpc->controller.setTimeout(options_.timeout);
  ++in_flight_;
  auto finished = [this, alive = liveness_.token(), rpc] {
    if (!alive.alive()) return;
    --in_flight_;
    SaverMetrics& m = saverMetrics();
    m.store_seconds.observe(static_cast<double>(rpc->controller.latencyUs()) / 1e6);
    const Status& st = rpc->controller.status();
    if (st.isOk()) {
      m.store_ok.inc();
      m.stored.inc(rpc->response.stored());
    } else {
      m.store_failed.inc();
      LOG_EVERY_SEC(Warn, Center, 1,
                    "saver Store of {} users failed: {}; QoS 1 pushes are answered 503",
                    rpc->batch->users, st.toString());
    }
    for (const auto& op : rpc->batch->ops) {
      if (!st.isOk() && op->failure.isOk()) op->failure = st;
      if (--op->parts == 0) {
        StoreDone done = std::move(op->done);
        done(op->failure);
      }
    }
  };
  saver::Saver_Stub(channel_.get())
      .Store(&rpc->controller, &rpc->batch->request, &rpc->response, rpc::newCallback(finished));
}

void SaverClient::storeBroadcast(const broadcast::BroadcastMessage& broadcast, SequenceDone done) {
  struct Rpc {
    rpc::Controller controller;
    saver::StoreBroadcastRequest request;
    saver::StoreBroadcastResponse response;
    SequenceDone done;
  };
  auto rpc = std::make_shared<Rpc>();
  *rpc->request.mutable_broadcast() = broadcast;
  rpc->done = std::move(done);
  rpc->controller.setTimeout(options_.timeout);
  auto finished = [alive = liveness_.token(), rpc] {
    if (!alive.alive()) return;
    SaverMetrics& m = saverMetrics();
    m.broadcast_seconds.observe(static_cast<double>(rpc->controller.latencyUs()) / 1e6);
    Status st = rpc->controller.status();
    // Sequences start at 1: a 0 would be published as "no sequence" and break replay.
    if (st.isOk() && rpc->response.sequence() == 0) {
      st = internalError("saver answered StoreBroadcast without a sequence");
    }
    SequenceDone done = std::move(rpc->done);
    if (!st.isOk()) {
      m.broadcast_failed.inc();
      LOG_EVERY_SEC(Warn, Center, 1,
                    "saver StoreBroadcast failed: {}; QoS 1 broadcasts are answered 503",
                    st.toString());
      return done(st);
    }
    m.broadcast_ok.inc();
    done(rpc->response.sequence());
  };
  // The call is posted so that `done` never runs inside storeBroadcast() (the channel fails
  // an unsendable call before CallMethod returns).
  loop_.post([this, alive = liveness_.token(), rpc, finished = std::move(finished)]() mutable {
    if (!alive.alive()) return;
    saver::Saver_Stub(channel_.get())
        .StoreBroadcast(&rpc->controller, &rpc->request, &rpc->response,
                        rpc::newCallback(std::move(finished)));
  });
}

}  // namespace push::center
