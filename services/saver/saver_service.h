#pragma once

#include <cstdint>
#include <functional>

#include "proto/saver.pb.h"

namespace push {
class JsonWriter;
}

namespace push::saver {

class BroadcastLog;
class InboxStore;
class Recovery;
class WriteBehind;

// The Saver RPC service (proto/saver.proto): checks each request, runs it on InboxStore or
// BroadcastLog (Redis), answers once Redis did, and hands every fact to WriteBehind (MySQL)
// after that. Handlers reply later, on the loop thread, when Redis answers.
//
// `write_behind` and `recovery` are null without MySQL. Everything passed in outlives this
// object, and the RPC server that dispatches to it must be gone before it is destroyed.
// Loop-thread only.
class SaverService final : public Saver {
 public:
  struct Limits {
    uint32_t max_users_per_store = 10'000;
  };
  SaverService(InboxStore& inbox, BroadcastLog& broadcasts, WriteBehind* write_behind,
               Recovery* recovery, Limits limits);

  void Store(google::protobuf::RpcController* controller, const StoreRequest* request,
             StoreResponse* response, google::protobuf::Closure* done) override;
  void Load(google::protobuf::RpcController* controller, const LoadRequest* request,
            LoadResponse* response, google::protobuf::Closure* done) override;
  void Ack(google::protobuf::RpcController* controller, const AckRequest* request,
           AckResponse* response, google::protobuf::Closure* done) override;
  void StoreBroadcast(google::protobuf::RpcController* controller,
                      const StoreBroadcastRequest* request, StoreBroadcastResponse* response,
                      google::protobuf::Closure* done) override;
  void LoadBroadcasts(google::protobuf::RpcController* controller,
                      const LoadBroadcastsRequest* request, LoadBroadcastsResponse* response,
                      google::protobuf::Closure* done) override;
  void Stats(google::protobuf::RpcController* controller, const StatsRequest* request,
             StatsResponse* response, google::protobuf::Closure* done) override;

  // The Stats RPC's figures.
  StatsResponse stats() const;
  void writeStatus(JsonWriter& out) const;

 private:
  InboxStore& inbox_;
  BroadcastLog& broadcasts_;
  WriteBehind* write_behind_;
  Recovery* recovery_;
  const Limits limits_;
};

}  // namespace push::saver
