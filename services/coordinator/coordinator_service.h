#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "proto/coordinator.pb.h"
#include "services/coordinator/app_dispatcher.h"
#include "services/coordinator/app_settings.h"

namespace push {
class JsonWriter;
}

namespace push::coord {

// The Coordinator RPC service (proto/coordinator.proto): routes each upstream item and each
// session event to its app's AppDispatcher. Upstream answers once every item of the batch has
// its outcome (one result per item, in order); Events answers at once.
//
// The app records: updateApp() adds or replaces one (a static config at startup; ZooKeeper
// apps/<app> later), removeApp() takes one away (its waiting and in-flight items are answered
// ERROR_UNAVAILABLE "coordinator stopping").
//
// Ownership: `shared` outlives the service; the RPC server that dispatches to it must be
// closed before it is destroyed (items still pending are answered inside the destructor).
// Loop-thread only.
class CoordinatorService final : public Coordinator {
 public:
  explicit CoordinatorService(AppDispatcher::Shared& shared);
  ~CoordinatorService() override;

  void Upstream(google::protobuf::RpcController* controller, const UpstreamBatchRequest* request,
                UpstreamBatchResponse* response, google::protobuf::Closure* done) override;
  void Events(google::protobuf::RpcController* controller, const SessionEventsRequest* request,
              SessionEventsResponse* response, google::protobuf::Closure* done) override;

  // Adds the app or applies new settings to it (AppDispatcher::update). INVALID_ARGUMENT when
  // `settings` does not validate; nothing changes then.
  Status updateApp(AppSettings settings);
  // False when there is no such app.
  bool removeApp(const std::string& name);
  // Removes every app (stopping): everything pending is answered at once.
  void removeAll();
  // Null when unknown.
  const AppDispatcher* app(const std::string& name) const;

  // "apps":[{"name","running","queued","events_waiting"}...] members of /status.
  void writeStatus(JsonWriter& out) const;

 private:
  AppDispatcher::Shared& shared_;
  std::map<std::string, std::unique_ptr<AppDispatcher>> apps_;
};

}  // namespace push::coord
