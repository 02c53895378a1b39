#pragma once

#include "proto/room.pb.h"

namespace push::room {

class RoomServer;

// The Room RPC service (proto/room.proto): thin glue from RPC calls to RoomServer.
class RoomRpcService final : public Room {
 public:
  explicit RoomRpcService(RoomServer& room) : room_(room) {}

  void Deliver(google::protobuf::RpcController* controller, const DeliverRequest* request,
               DeliverResponse* response, google::protobuf::Closure* done) override;
  void DeliverBatch(google::protobuf::RpcController* controller, const DeliverBatchRequest* request,
                    DeliverBatchResponse* response, google::protobuf::Closure* done) override;
  void Kick(google::protobuf::RpcController* controller, const KickRequest* request,
            KickResponse* response, google::protobuf::Closure* done) override;
  void Drain(google::protobuf::RpcController* controller, const DrainRequest* request,
             DrainResponse* response, google::protobuf::Closure* done) override;
  void ListSessions(google::protobuf::RpcController* controller, const ListSessionsRequest* request,
                    ListSessionsResponse* response, google::protobuf::Closure* done) override;

 private:
  RoomServer& room_;
};

}  // namespace push::room
