#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/discovery/service_instance.h"
#include "common/http/http_server.h"
#include "common/net/inet_address.h"
#include "services/dispatcher/dispatcher_options.h"
#include "services/dispatcher/endpoint_scatter.h"
#include "services/dispatcher/route_query.h"
#include "services/dispatcher/route_table.h"

namespace push::net {
class EventLoop;
}
namespace push::discovery {
class ZkClient;
class ServiceWatcher;
}  // namespace push::discovery

namespace push::dispatcher {

// push-dispatcher: GET /v1/route on an HTTP server, answered from a RouteTable of the rooms
// it sees (services/dispatcher/README.md has the rules and the answer format).
//
//   ASSIGN_OR_RETURN(auto d, DispatcherServer::create(loop, options));
//   RETURN_IF_ERROR(d->start());    // listens; static rooms at once, ZooKeeper's when read
//   ...
//   d->stop();                      // closes the servers and the ZooKeeper session
//
// Rooms: with options.zk_hosts, a ZkClient session and a ServiceWatcher on services/room;
// each list it delivers is turned into a new RouteTable, swapped in whole (a request sees the
// old table or the new one, never a mix). Without, options.static_rooms once at start().
//
// The request path parses the query, hashes (app, user), ranks the rooms of the table and
// writes the JSON into a buffer the server reuses; its scratch vectors are reused too, so a
// warm request allocates only what HttpRequest/HttpResponse themselves need.
//
// Owns its servers, ZooKeeper client and watcher. Loop-thread only; destroy on the loop thread
// (stop() first, or the destructor does it). Not copyable.
class DispatcherServer {
 public:
  static Result<std::unique_ptr<DispatcherServer>> create(net::EventLoop& loop,
                                                          DispatcherOptions options);
  ~DispatcherServer();
  DispatcherServer(const DispatcherServer&) = delete;
  DispatcherServer& operator=(const DispatcherServer&) = delete;

  // Listens (API and admin ports) and starts reading the rooms. UNAVAILABLE when a port cannot
  // be bound, INVALID_ARGUMENT for a bad address or ZooKeeper option.
  Status start();
  // Closes the ports and the ZooKeeper session. Idempotent.
  void stop();

  const net::InetAddress& address() const { return address_; }
  const net::InetAddress& adminAddress() const { return admin_address_; }

  // Replaces the room list (what the watcher does; tests may call it in static mode too).
  void setRooms(const std::vector<discovery::ServiceInstance>& instances);
  // The table requests are answered from now.
  std::shared_ptr<const RouteTable> table() const { return table_; }
  // Room lists applied so far.
  uint64_t tableUpdates() const { return table_updates_; }

  // The answer to one query: status and JSON body, written into `body` (replaced).
  int answer(const RouteQuery& query, std::string* body);

  // The /status document: the rooms seen (routable and skipped), the source, counters.
  std::string statusJson() const;

 private:
  DispatcherServer(net::EventLoop& loop, DispatcherOptions options);
  void handleRoute(http::HttpRequest& req, http::HttpResponder responder);
  uint32_t heartbeatFor(Network net) const;
  Status health() const;

  net::EventLoop& loop_;
  const DispatcherOptions options_;
  http::HttpServerPtr http_;
  http::HttpServerPtr admin_;
  net::InetAddress address_;
  net::InetAddress admin_address_;
  std::unique_ptr<discovery::ZkClient> zk_;
  std::unique_ptr<discovery::ServiceWatcher> watcher_;
  std::shared_ptr<const RouteTable> table_;
  uint64_t table_updates_ = 0;
  bool started_ = false;
  uint64_t requests_ = 0;
  uint64_t answered_ok_ = 0;
  // Reused by every request (loop thread only).
  RouteTable::Scratch scratch_;
  std::vector<uint32_t> order_;
  std::vector<const RouteEndpoint*> candidates_;
  std::vector<const RouteEndpoint*> flat_;
  std::string body_;
};

}  // namespace push::dispatcher
