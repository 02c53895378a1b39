#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "proto/coordinator.pb.h"
#include "services/coordinator/app_dispatcher.h"
#include "services/coordinator/app_settings.h"

namespace push {
class JsonWriter;
}
namespace push::service {
class UserKicker;
}

namespace push::coord {

// The Coordinator RPC service (proto/coordinator.proto): routes each upstream item and each
// session event to its app's AppDispatcher. Upstream answers once every item of the batch has
// its outcome (one result per item, in order); Events answers at once.
//
// The app records: updateApp() adds or replaces one (a static config at startup), setApps()
// makes the set equal to a whole list (ZooKeeper apps/<app>), removeApp() takes one away: its
// items waiting for the app's cap are answered ERROR_UNKNOWN_APP, those at the webhook finish
// (AppDispatcher::retire), and new ones are answered ERROR_UNKNOWN_APP at once.
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
  // Through the kicker set with setKicker (FAILED_PRECONDITION without one).
  void Kick(google::protobuf::RpcController* controller, const room::KickRequest* request,
            KickUserResponse* response, google::protobuf::Closure* done) override;

  // Kicks go through `kicker` (borrowed: destroy it before this service, whose destructor
  // answers the kicks still waiting UNAVAILABLE). Null: no register configured.
  void setKicker(service::UserKicker* kicker) { kicker_ = kicker; }
  // Answers every kick still waiting for the kicker UNAVAILABLE (stopping).
  void failPendingKicks();
  uint64_t kicks() const { return kicks_; }

  // Adds the app or applies new settings to it (AppDispatcher::update). INVALID_ARGUMENT when
  // `settings` does not validate; nothing changes then.
  Status updateApp(AppSettings settings);
  // False when there is no such app. See the class comment; the app's dispatcher lives on
  // (retired, counted in /status "apps_finishing") until its requests in flight are done.
  bool removeApp(const std::string& name);
  // The apps become exactly `apps`: each is added or updated (updateApp; unchanged ones are
  // left alone), every other app is removed (removeApp). An app that does not validate is
  // skipped and logged (a known app of that name keeps its settings). Returns how many were
  // skipped.
  size_t setApps(const std::vector<AppSettings>& apps);
  // Removes every app, retired ones included, and answers the kicks waiting (stopping):
  // everything pending is answered at once.
  void removeAll();
  // Null when unknown.
  const AppDispatcher* app(const std::string& name) const;

  // "apps":[{"name","running","queued","events_waiting"}...],"apps_finishing":n members of
  // /status (apps_finishing: removed apps whose requests in flight have not finished yet).
  void writeStatus(JsonWriter& out) const;

 private:
  AppDispatcher::Shared& shared_;
  service::UserKicker* kicker_ = nullptr;
  struct PendingKick {
    google::protobuf::RpcController* controller;
    KickUserResponse* response;
    google::protobuf::Closure* done;
  };
  std::map<uint64_t, PendingKick> pending_kicks_;  // by id, until the kicker answers
  uint64_t next_kick_ = 0;
  uint64_t kicks_ = 0;
  Liveness liveness_;  // the kicker's callbacks check it
  std::map<std::string, std::unique_ptr<AppDispatcher>> apps_;
  // Removed apps whose webhook requests are still finishing; each erases itself when idle.
  std::map<AppDispatcher*, std::unique_ptr<AppDispatcher>> finishing_;
};

}  // namespace push::coord
