#include "services/saver/saver_server.h"
#include "proto/config.pb.h"

#include <unistd.h>

#include <map>
#include <utility>

#include "common/base/clock.h"
#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/mysql/migrations.h"
#include "common/mysql/mysql_session.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "services/common/admin_port.h"
#include "services/saver/mysql_schema.h"

namespace push::saver {

namespace {

int64_t wallMs() {
  return Clock::system().wallMillis();
}

}  // namespace

Result<std::unique_ptr<SaverServer>> SaverServer::create(net::EventLoop& loop, Options options) {
  if (options.redis.addresses.empty()) return invalidArgument("redis.addresses: at least one");
  if (options.inbox.max_loads == 0 || options.inbox.max_load_limit == 0 ||
      options.broadcasts.log_max == 0 || options.write_behind.batch == 0) {
    return invalidArgument(
        "max_loads, max_load_limit, broadcast_log_max, write_behind_batch: "
        "not 0");
  }
  std::unique_ptr<SaverServer> server(new SaverServer(loop, std::move(options)));
  auto redis = redis::RedisRouter::create(loop, server->options_.redis);
  if (!redis.isOk()) return redis.status().withContext("redis");
  server->redis_ = std::move(redis).value();
  if (server->options_.mysql) {
    auto pool = mysql::MySqlPool::create(loop, *server->options_.mysql);
    if (!pool.isOk()) return pool.status().withContext("mysql");
    server->mysql_ = std::move(pool).value();
  }
  SaverServer* s = server.get();
  s->inbox_ = std::make_unique<InboxStore>(*s->redis_, s->options_.inbox, wallMs);
  s->broadcasts_ = std::make_unique<BroadcastLog>(
      *s->redis_, s->options_.broadcasts, wallMs,
      [s](const std::string& app, std::function<void(Result<uint64_t>)> done) {
        s->floorFor(app, std::move(done));
      });
  if (s->mysql_) {
    s->write_behind_ =
        std::make_unique<WriteBehind>(loop, *s->mysql_, s->options_.write_behind, wallMs);
    s->write_behind_->setReady(false);  // until the schema is applied
    s->recovery_ = std::make_unique<Recovery>(loop, *s->redis_, *s->mysql_, *s->inbox_,
                                              *s->broadcasts_, s->options_.recovery, wallMs);
    // Facts still waiting for their age go to MySQL before a recovery reads it (bounded: with
    // MySQL down the read fails anyway and is retried).
    s->recovery_->setBeforeScan([wb = s->write_behind_.get()](std::function<void()> go) {
      wb->drain(std::chrono::seconds(5), std::move(go));
    });
  }
  s->service_ = std::make_unique<SaverService>(*s->inbox_, *s->broadcasts_, s->write_behind_.get(),
                                               s->recovery_.get(), s->options_.limits);
  return server;
}

SaverServer::SaverServer(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)) {}

SaverServer::~SaverServer() {
  liveness_.kill();
  for (uint64_t id : gauges_)
    metrics::Registry::global().removeCallback(id);
  admin_.reset();
  rpc_.reset();  // no handler runs after this; replies still owed go nowhere
  migrate_retry_.reset();
  service_.reset();
  recovery_.reset();
  write_behind_.reset();
  broadcasts_.reset();
  inbox_.reset();
  mysql_.reset();  // joins its workers; their completions are cancelled
  redis_.reset();
}

Status SaverServer::start() {
  loop_.assertInLoopThread();
  if (started_) return Status(Code::FAILED_PRECONDITION, "saver started twice");
  started_ = true;
  rpc_ = rpc::Server::create(loop_, options_.rpc);
  Status st = rpc_->addService(service_.get());
  if (st.isOk()) st = rpc_->start();
  if (!st.isOk()) {
    rpc_.reset();
    return st;
  }
  rpc_address_ = rpc_->address();
  auto admin = service::startAdmin(
      loop_, options_.admin,
      {.health = [this] { return stopping_ ? unavailable("stopping") : Status::ok(); },
       .status_json = [this] { return statusJson(); }});
  if (!admin.isOk()) {
    rpc_.reset();
    return admin.status().withContext("admin");
  }
  admin_ = std::move(admin).value();
  if (admin_) admin_address_ = admin_->address();
  auto link = service::DiscoveryLink::create(loop_, options_.discovery);
  if (!link.isOk()) {
    rpc_.reset();
    admin_.reset();
    return link.status().withContext("discovery");
  }
  discovery_ = std::move(link).value();
  if (discovery_) {
    std::map<std::string, net::InetAddress> endpoints{{"rpc", rpc_address_}};
    if (admin_) endpoints.emplace("admin", admin_address_);
    RETURN_IF_ERROR(discovery_->registerSelf("saver", service::DiscoveryLink::instanceId("saver"),
                                             endpoints, nullptr));
    // Live config (config/saver): its log levels only.
    RETURN_IF_ERROR(
        discovery_->watchConfig("saver", std::make_unique<config::SaverConfig>(), nullptr));
  }
  registerGauges();
  if (mysql_) migrate();
  LOG_INFO(Saver, "saver on {} (redis {} x{}, mysql {})", rpc_address_.toString(),
           options_.redis.mode == redis::RedisRouter::Mode::Single   ? "single"
           : options_.redis.mode == redis::RedisRouter::Mode::Shards ? "shards"
                                                                     : "cluster",
           options_.redis.addresses.size(), mysql_ ? "on" : "off");
  return Status::ok();
}

void SaverServer::migrate() {
  auto version = std::make_shared<uint32_t>(0);
  mysql_->run(
      [version](mysql::MySqlSession& s) -> Status {
        auto v = mysql::applyMigrations(s, kSchemaTable, saverMigrations());
        if (!v.isOk()) return v.status();
        *version = *v;
        return Status::ok();
      },
      [this, alive = liveness_.token(), version](Status st) {
        if (!alive.alive() || stopping_) return;
        if (!st.isOk()) {
          LOG_EVERY_SEC(Warn, Saver, 10, "MySQL schema not applied yet: {}", st.toString());
          if (!migrate_retry_) {
            migrate_retry_ = net::PeriodicTimer::create(loop_, [this] { migrate(); });
          }
          migrate_retry_->start(std::chrono::seconds(1), false);
          return;
        }
        schema_version_ = *version;
        migrate_retry_.reset();
        LOG_INFO(Saver, "MySQL schema at version {}", schema_version_);
        write_behind_->setReady(true);
        recovery_->start();
      });
}

void SaverServer::floorFor(const std::string& app, std::function<void(Result<uint64_t>)> done) {
  if (!mysql_) return done(uint64_t{0});
  if (schema_version_ == 0) {
    return done(Status(Code::UNAVAILABLE, "MySQL schema not applied yet"));
  }
  auto highest = std::make_shared<uint64_t>(0);
  mysql_->run(
      [app, highest](mysql::MySqlSession& s) -> Status {
        auto rows = s.query("SELECT MAX(seq) FROM broadcasts WHERE app_name = ?", {app});
        if (!rows.isOk()) return rows.status();
        if (!rows->rows.empty() && !rows->rows[0].empty()) {
          const mysql::Value& v = rows->rows[0][0];
          if (const auto* u = std::get_if<uint64_t>(&v)) *highest = *u;
          if (const auto* i = std::get_if<int64_t>(&v)) *highest = static_cast<uint64_t>(*i);
          if (const auto* t = std::get_if<std::string>(&v)) *highest = std::stoull("0" + *t);
        }
        return Status::ok();
      },
      [this, alive = liveness_.token(), app, highest, done = std::move(done)](Status st) {
        if (!alive.alive()) return;
        if (!st.isOk()) return done(st);
        done(std::max(*highest, write_behind_->pendingBroadcastSequence(app)));
      });
}

void SaverServer::registerGauges() {
  metrics::Registry& r = metrics::Registry::global();
  if (write_behind_) {
    gauges_.push_back(r.gaugeCallback("push_saver_write_behind_backlog",
                                      "Facts waiting to be written to MySQL.", "",
                                      [this] { return double(write_behind_->backlog()); }));
    gauges_.push_back(r.gaugeCallback(
        "push_saver_write_behind_oldest_seconds", "Age of the oldest fact waiting for MySQL.", "",
        [this] { return double(write_behind_->oldestAgeMs()) / 1000.0; }));
    gauges_.push_back(r.gaugeCallback("push_saver_write_behind_dropped",
                                      "Facts dropped from a full write-behind backlog.", "",
                                      [this] { return double(write_behind_->dropped()); }));
    gauges_.push_back(
        r.gaugeCallback("push_saver_write_behind_coalesced",
                        "Stores taken out of the write-behind because their ack came first.", "",
                        [this] { return double(write_behind_->coalesced()); }));
    gauges_.push_back(r.gaugeCallback("push_saver_write_behind_written", "Facts written to MySQL.",
                                      "", [this] { return double(write_behind_->written()); }));
    gauges_.push_back(r.gaugeCallback("push_saver_mysql_up",
                                      "1 when the last MySQL write succeeded.", "",
                                      [this] { return write_behind_->healthy() ? 1.0 : 0.0; }));
  }
  if (recovery_) {
    gauges_.push_back(r.gaugeCallback("push_saver_redis_up",
                                      "1 when the last check reached every Redis primary.", "",
                                      [this] { return recovery_->redisHealthy() ? 1.0 : 0.0; }));
    gauges_.push_back(r.gaugeCallback("push_saver_recoveries",
                                      "Times Redis was found empty and refilled from MySQL.", "",
                                      [this] { return double(recovery_->recoveries()); }));
    gauges_.push_back(r.gaugeCallback("push_saver_recovered_messages",
                                      "Stored messages written back to Redis from MySQL.", "",
                                      [this] { return double(recovery_->recoveredMessages()); }));
  }
}

void SaverServer::stop(std::function<void()> done) {
  loop_.assertInLoopThread();
  if (stopping_) return;
  stopping_ = true;
  admin_.reset();
  migrate_retry_.reset();
  // The node goes first so rooms and centers stop picking this saver; calls already sent get
  // the RPC server's grace below.
  if (discovery_) discovery_->stop(nullptr);
  auto finish = [this, alive = liveness_.token(), done = std::move(done)]() mutable {
    if (!alive.alive() || !write_behind_) return loop_.post(std::move(done));
    write_behind_->drain(
        options_.shutdown_grace,
        [loop = &loop_, done = std::move(done)]() mutable { loop->post(std::move(done)); });
  };
  if (!rpc_) return finish();
  rpc_.release()->shutdown(options_.shutdown_grace, std::move(finish));
}

std::string SaverServer::statusJson() const {
  JsonWriter w(512);
  w.beginObject();
  w.key("rpc").string(rpc_address_.toString());
  w.key("stopping").boolean(stopping_);
  w.key("schema_version").uint64(schema_version_);
  w.key("redis_primaries").beginArray();
  for (const std::string& p : redis_->primaries())
    w.string(p);
  w.endArray();
  service_->writeStatus(w);
  if (discovery_) w.key("discovery").raw(discovery_->statusJson());
  w.endObject();
  return w.take();
}

}  // namespace push::saver
