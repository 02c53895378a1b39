#include "services/saver/saver_options.h"

#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "proto/config.pb.h"
#include "services/common/cluster_key.h"
#include "services/common/config_ranges.h"

namespace push::saver {

namespace {

// Every integer field of SaverConfig and its range (proto/config.proto states the same).
std::vector<FieldRange> saverRanges() {
  static const FieldRange kOwn[] = {
      {"redis.timeout_ms", 10, 60'000},
      {"mysql.port", 1, 65'535},
      {"mysql.threads", 1, 64},
      {"default_ttl_s", 1, 31'536'000},
      {"max_ttl_s", 1, 31'536'000},
      {"max_loads", 1, 1000},
      {"default_load_limit", 1, 10'000},
      {"max_load_limit", 1, 10'000},
      {"max_users_per_store", 1, 1'000'000},
      {"broadcast_log_max", 1, 100'000},
      {"broadcast_cache_check_ms", 1, 60'000},
      {"write_behind_batch", 1, 100'000},
      {"write_behind_interval_ms", 1, 60'000},
      {"write_behind_max_backlog", 1000, 100'000'000},
      {"write_behind_min_age_ms", 1, 60'000},
      {"recovery_check_ms", 100, 600'000},
      {"shutdown_grace_ms", 1, 60'000},
  };
  return service::joinRanges({service::rpcServerRanges("rpc"), service::httpServerRanges("admin"),
                              service::discoveryRanges("discovery"),
                              std::vector<FieldRange>(std::begin(kOwn), std::end(kOwn))});
}

Status fieldError(const ConfigFile* file, const char* field, const std::string& why) {
  return file ? file->fieldError(field, why) : invalidArgument(std::string(field) + ": " + why);
}

}  // namespace

Result<SaverOptions> SaverOptions::fromConfig(const config::SaverConfig& c,
                                              const ConfigFile* file) {
  RETURN_IF_ERROR(checkFieldRanges(c, file, saverRanges()));
  SaverOptions o;

  const std::string& mode = c.redis().mode();
  if (mode.empty() || mode == "single") {
    o.redis.mode = redis::RedisRouter::Mode::Single;
  } else if (mode == "shards") {
    o.redis.mode = redis::RedisRouter::Mode::Shards;
  } else if (mode == "cluster") {
    o.redis.mode = redis::RedisRouter::Mode::Cluster;
  } else {
    return fieldError(file, "redis.mode", "'" + mode + "' is not single, shards or cluster");
  }
  o.redis.addresses.assign(c.redis().addresses().begin(), c.redis().addresses().end());
  if (o.redis.addresses.empty()) o.redis.addresses.push_back("127.0.0.1:6379");
  if (o.redis.mode == redis::RedisRouter::Mode::Single && o.redis.addresses.size() != 1) {
    return fieldError(file, "redis.addresses", "mode single takes exactly one address");
  }
  // A slot migrating under a user's keys answers TRYAGAIN until the user's keys moved together;
  // the router backs off 10 ms doubling to 500 ms per retry, so retries are bounded by the
  // command's deadline rather than by a count that would give up after ~0.3 s.
  o.redis.max_redirects = 30;
  if (c.redis().timeout_ms()) {
    o.redis.client.timeout = std::chrono::milliseconds(c.redis().timeout_ms());
  }

  const config::MySqlStoreConfig& m = c.mysql();
  if (!m.host().empty() || !m.unix_socket().empty()) {
    mysql::MySqlPool::Options p;
    if (!m.host().empty()) p.host = m.host();
    if (m.port()) p.port = static_cast<uint16_t>(m.port());
    p.unix_socket = m.unix_socket();
    p.user = m.user();
    p.password = m.password();
    if (!m.password_file().empty()) {
      std::ifstream in(m.password_file());
      if (!in) return fieldError(file, "mysql.password_file", "cannot read " + m.password_file());
      std::stringstream text;
      text << in.rdbuf();
      p.password = text.str();
      while (!p.password.empty() && (p.password.back() == '\n' || p.password.back() == '\r')) {
        p.password.pop_back();
      }
    }
    p.database = m.database().empty() ? "push" : m.database();
    if (m.threads()) p.threads = m.threads();
    // One thread is the write-behind's ordered lane; recovery reads need another.
    if (p.threads < 2) p.threads = 2;
    o.mysql = std::move(p);
  }

  if (c.default_ttl_s()) o.inbox.default_ttl = std::chrono::seconds(c.default_ttl_s());
  if (c.max_ttl_s()) o.inbox.max_ttl = std::chrono::seconds(c.max_ttl_s());
  if (o.inbox.default_ttl > o.inbox.max_ttl) {
    return fieldError(file, "default_ttl_s", "is above max_ttl_s");
  }
  if (c.max_loads()) o.inbox.max_loads = c.max_loads();
  if (c.default_load_limit()) o.inbox.default_load_limit = c.default_load_limit();
  if (c.max_load_limit()) o.inbox.max_load_limit = c.max_load_limit();
  o.broadcasts.default_limit = o.inbox.default_load_limit;
  o.broadcasts.max_limit = o.inbox.max_load_limit;
  if (c.max_users_per_store()) o.limits.max_users_per_store = c.max_users_per_store();
  if (c.broadcast_log_max()) o.broadcasts.log_max = c.broadcast_log_max();
  if (c.broadcast_cache_check_ms()) {
    o.broadcasts.cache_check = std::chrono::milliseconds(c.broadcast_cache_check_ms());
  }
  if (c.write_behind_batch()) o.write_behind.batch = c.write_behind_batch();
  if (c.write_behind_interval_ms()) {
    o.write_behind.interval = std::chrono::milliseconds(c.write_behind_interval_ms());
  }
  if (c.write_behind_max_backlog()) o.write_behind.max_backlog = c.write_behind_max_backlog();
  if (o.write_behind.max_backlog < 2ull * o.write_behind.batch) {
    // A batch in flight is never dropped: a cap within a batch would drop the newest facts.
    return fieldError(file, "write_behind_max_backlog", "is below twice write_behind_batch");
  }
  if (c.write_behind_min_age_ms()) {
    o.write_behind.min_age = std::chrono::milliseconds(c.write_behind_min_age_ms());
  }
  if (c.recovery_check_ms()) {
    o.recovery.check_interval = std::chrono::milliseconds(c.recovery_check_ms());
  }
  if (c.shutdown_grace_ms()) o.shutdown_grace = std::chrono::milliseconds(c.shutdown_grace_ms());

  auto rpc = rpc::Server::Options::fromConfig(c.rpc());
  if (!rpc.isOk()) return rpc.status().withContext(file ? file->name() : "config");
  o.rpc = std::move(*rpc);
  if (c.rpc().listen().address().empty()) o.rpc.address = "127.0.0.1:7400";
  RETURN_IF_ERROR(service::applyClusterKey(c.cluster_key(), file, &o.rpc, {}));
  if (!c.admin().listen().address().empty()) {
    o.admin = http::HttpServer::Options::fromConfig(c.admin());
  }
  ASSIGN_OR_RETURN(o.discovery,
                   service::DiscoveryOptions::fromConfig(c.discovery(), file, "discovery"));
  return o;
}

}  // namespace push::saver
