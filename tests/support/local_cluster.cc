#include "tests/support/local_cluster.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/auth/token.h"
#include "common/base/clock.h"

namespace push::testing {

namespace {
Status writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!out) return internalError("cannot write " + path);
  out << text;
  return Status::ok();
}

std::string appsConfig(const std::vector<LocalCluster::App>& apps) {
  std::string out;
  for (const auto& a : apps) {
    out += "apps { name: \"" + a.name + "\" secret: \"" + a.secret + "\" api_keys: \"" + a.api_key +
           "\" push_rate_per_s: " + std::to_string(a.rate_per_s) + " }\n";
  }
  return out;
}

// "key=value key=value" -> value of key.
std::string field(const std::string& line, const std::string& key) {
  std::istringstream in(line);
  std::string token;
  while (in >> token) {
    if (token.compare(0, key.size() + 1, key + "=") == 0) return token.substr(key.size() + 1);
  }
  return "";
}
}  // namespace

Result<std::unique_ptr<LocalCluster>> LocalCluster::start(Options options) {
  std::unique_ptr<LocalCluster> c(new LocalCluster());
  c->options_ = std::move(options);
  char tmpl[] = "/tmp/push-cluster.XXXXXX";
  if (!::mkdtemp(tmpl)) return internalError("mkdtemp failed");
  c->dir_ = tmpl;
  RETURN_IF_ERROR(c->startRegister());
  if (c->options_.saver) RETURN_IF_ERROR(c->startSaver());

  std::string room_cfg =
      "name: \"room\"\n"
      "tcp { address: \"127.0.0.1:0\" }\n"
      "rpc { listen { address: \"127.0.0.1:0\" } }\n"
      "admin { listen { address: \"127.0.0.1:0\" } }\n" +
      c->registerClientConfig() + appsConfig(c->options_.apps);
  if (c->options_.websocket) room_cfg += "websocket { address: \"127.0.0.1:0\" }\n";
  room_cfg += c->clusterKeyConfig() + c->saverClientConfig() + c->options_.room_config;
  RETURN_IF_ERROR(writeFile(c->dir_ + "/room.conf", room_cfg));
  ASSIGN_OR_RETURN(c->room_,
                   Subprocess::start({binPath("push-room"), "--config", c->dir_ + "/room.conf",
                                      "--workers", std::to_string(c->options_.room_workers)}));
  RETURN_IF_ERROR(c->refreshRooms(static_cast<size_t>(c->options_.room_workers)));

  if (c->options_.start_center) {
    std::string center_cfg = "http { listen { address: \"127.0.0.1:0\" } }\n" +
                             c->registerClientConfig() + appsConfig(c->options_.apps) +
                             c->clusterKeyConfig() + c->saverClientConfig() +
                             c->options_.center_config;
    RETURN_IF_ERROR(writeFile(c->dir_ + "/center.conf", center_cfg));
    ASSIGN_OR_RETURN(
        c->center_, Subprocess::start({binPath("push-center"), "--config", c->dir_ + "/center.conf",
                                       "--workers", std::to_string(c->options_.center_workers)}));
    // Every worker announces the shared address; wait for all so each takes connections.
    ASSIGN_OR_RETURN(
        auto lines,
        c->center_->waitForLines("HTTP_ADDRESS", static_cast<size_t>(c->options_.center_workers)));
    c->center_address_ = lines.at(0);
  }
  return c;
}

std::string LocalCluster::clusterKeyConfig() const {
  if (options_.cluster_key.empty()) return "";
  return "cluster_key: \"" + options_.cluster_key + "\"\n";
}

std::string LocalCluster::registerClientConfig() const {
  if (options_.register_discover) return "register { discover: true }\n";
  return "register { shards { address: \"" + register_address_ + "\" slots: \"0-1023\" } }\n";
}

Status LocalCluster::startRegister() {
  std::string listen = register_address_.empty() ? "127.0.0.1:0" : register_address_;
  std::string cfg = "rpc { listen { address: \"" + listen +
                    "\" } }\n"
                    "admin { listen { address: \"127.0.0.1:0\" } }\n" +
                    clusterKeyConfig() + options_.register_config;
  RETURN_IF_ERROR(writeFile(dir_ + "/register.conf", cfg));
  ASSIGN_OR_RETURN(register_, Subprocess::start(
                                  {binPath("push-register"), "--config", dir_ + "/register.conf"}));
  ASSIGN_OR_RETURN(register_address_, register_->waitForLine("RPC_ADDRESS"));
  ASSIGN_OR_RETURN(register_admin_, register_->waitForLine("ADMIN_ADDRESS"));
  return Status::ok();
}

Status LocalCluster::startSaver() {
  if (!redis_) {
    ASSIGN_OR_RETURN(redis_, RedisServer::start());
    if (options_.saver_mysql) {
      ASSIGN_OR_RETURN(mariadb_, MariaDbServer::start());
    }
  }
  std::string listen = saver_address_.empty() ? "127.0.0.1:0" : saver_address_;
  std::string cfg = "rpc { listen { address: \"" + listen +
                    "\" } }\n"
                    "admin { listen { address: \"127.0.0.1:0\" } }\n"
                    "redis { addresses: \"" +
                    redis_->address() + "\" }\nrecovery_check_ms: 200\n";
  if (mariadb_) {
    cfg += "mysql { host: \"127.0.0.1\" port: " + std::to_string(mariadb_->port()) + " user: \"" +
           mariadb_->user() + "\" password: \"" + mariadb_->password() + "\" database: \"" +
           mariadb_->database() + "\" }\n";
  }
  cfg += clusterKeyConfig() + options_.saver_config;
  RETURN_IF_ERROR(writeFile(dir_ + "/saver.conf", cfg));
  ASSIGN_OR_RETURN(saver_,
                   Subprocess::start({binPath("push-saver"), "--config", dir_ + "/saver.conf"}));
  ASSIGN_OR_RETURN(saver_address_, saver_->waitForLine("RPC_ADDRESS"));
  ASSIGN_OR_RETURN(saver_admin_, saver_->waitForLine("ADMIN_ADDRESS"));
  return Status::ok();
}

Status LocalCluster::restartSaver() {
  if (saver_) {
    saver_->sendSignal(SIGKILL);
    saver_->wait();
  }
  return startSaver();
}

std::string LocalCluster::saverClientConfig() const {
  if (!options_.saver) return "";
  return "saver { addresses: \"" + saver_address_ + "\" " + options_.saver_client_config + " }\n";
}

Status LocalCluster::restartRegister() {
  register_->sendSignal(SIGKILL);
  register_->wait();
  return startRegister();
}

Status LocalCluster::refreshRooms(size_t expected, std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(auto lines, room_->waitForLines("ROOM", expected, timeout));
  rooms_.clear();
  // The newest line per worker wins (a restarted worker prints again).
  for (const auto& l : room_->lines()) {
    if (l.compare(0, 5, "ROOM ") != 0) continue;
    Room r;
    r.worker = std::atoi(field(l, "worker").c_str());
    r.pid = std::atoi(field(l, "pid").c_str());
    r.id = field(l, "id");
    r.tcp = field(l, "tcp");
    r.ws = field(l, "ws");
    r.rpc = field(l, "rpc");
    r.admin = field(l, "admin");
    bool replaced = false;
    for (auto& existing : rooms_) {
      if (existing.worker == r.worker) {
        existing = r;
        replaced = true;
      }
    }
    if (!replaced) rooms_.push_back(r);
  }
  return Status::ok();
}

LocalCluster::~LocalCluster() {
  center_.reset();
  room_.reset();
  register_.reset();
  saver_.reset();
  mariadb_.reset();
  redis_.reset();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string LocalCluster::token(const std::string& user, const std::string& device,
                                std::chrono::seconds ttl, int app) const {
  const App& a = options_.apps.at(static_cast<size_t>(app));
  auth::TokenClaims claims{a.name, user, device, Clock::system().wallMillis() / 1000 + ttl.count()};
  return auth::mintToken(a.secret, claims);
}

}  // namespace push::testing
