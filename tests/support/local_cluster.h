#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "tests/support/mariadb_server.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace push::testing {

// A whole push platform on loopback for end-to-end tests: push-register, push-room (N
// workers) and push-center as real processes with configs written to a temporary directory
// (removed on destruction, with every process stopped by PID).
class LocalCluster {
 public:
  struct App {
    std::string name = "demo";
    std::string secret = "demo-secret-0123456789";
    std::string api_key = "demo-key-0123456789abcdef";
    uint32_t rate_per_s = 10000;
  };
  struct Options {
    std::vector<App> apps = {App{}};
    int room_workers = 1;
    int center_workers = 1;
    bool websocket = true;
    // Extra RoomConfig / CenterConfig / RegisterConfig text appended to the generated config.
    std::string room_config;
    std::string center_config;
    std::string register_config;
    // Room and center follow the registers in ZooKeeper (`register { discover: true }`, their
    // configs then need a discovery block) instead of a static map of the one register.
    bool register_discover = false;
    bool start_center = true;
    // Every config gets this top-level cluster_key (the RPC listeners require it, the channels
    // present it): the e2e tests run the keyed path. Empty: no key.
    std::string cluster_key = "local-cluster-key-0123456789";
    // Saver (issue 16): a redis-server of its own and push-saver, with `saver { addresses }` in
    // the room and center configs; with saver_mysql also a mariadbd the saver writes behind to.
    bool saver = false;
    bool saver_mysql = false;
    // Extra SaverConfig text, and extra SaverClientConfig text for the rooms' and center's
    // `saver { ... }` sections.
    std::string saver_config;
    std::string saver_client_config;
  };
  struct Room {
    int worker = 0;
    int pid = 0;
    std::string id, tcp, ws, rpc, admin;
  };

  static Result<std::unique_ptr<LocalCluster>> start(Options options);
  ~LocalCluster();

  const std::string& centerAddress() const { return center_address_; }
  const std::string& registerAddress() const { return register_address_; }
  const std::string& registerAdmin() const { return register_admin_; }
  // Every room instance started so far (one per worker).
  const std::vector<Room>& rooms() const { return rooms_; }
  // The shared client TCP address (all workers).
  const std::string& roomTcp() const { return rooms_.at(0).tcp; }
  const std::string& roomWs() const { return rooms_.at(0).ws; }
  Subprocess& roomProcess() { return *room_; }
  Subprocess& registerProcess() { return *register_; }
  Subprocess& centerProcess() { return *center_; }
  const std::string& dir() const { return dir_; }
  // `cluster_key: "<key>"` for a config of a process that joins this cluster ("" without key).
  std::string clusterKeyConfig() const;

  // A token for `app` (default: the first app) valid for `ttl` (negative: expired).
  std::string token(const std::string& user, const std::string& device,
                    std::chrono::seconds ttl = std::chrono::seconds(3600), int app = 0) const;

  // Restarts push-register on the same address (rooms re-send their sessions).
  Status restartRegister();
  // Reads room instance lines printed since the last call (a restarted worker prints anew).
  Status refreshRooms(size_t expected,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Saver, when started (Options::saver).
  const std::string& saverAddress() const { return saver_address_; }
  const std::string& saverAdmin() const { return saver_admin_; }
  Subprocess& saverProcess() { return *saver_; }
  RedisServer& redis() { return *redis_; }
  MariaDbServer* mariadb() { return mariadb_.get(); }
  // Starts push-saver again on the same address (after it was stopped or killed).
  Status restartSaver();

  // POST /v1/push with this JSON body and the first app's key.
  std::string apiKey(int app = 0) const {
    return options_.apps.at(static_cast<size_t>(app)).api_key;
  }

 private:
  LocalCluster() = default;
  Status startRegister();
  Status startSaver();
  std::string saverClientConfig() const;
  std::string registerClientConfig() const;
  Options options_;
  std::string dir_;
  std::unique_ptr<Subprocess> register_, room_, center_, saver_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<MariaDbServer> mariadb_;
  std::string saver_address_, saver_admin_;
  std::string register_address_, register_admin_, center_address_;
  std::vector<Room> rooms_;
};

}  // namespace push::testing
