#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/base/status.h"
#include "proto/room.pb.h"

namespace push::room {

class AppTable;
class ClientProtocol;
class ConnectionTable;
class Delivery;
class Sessions;

// The Room RPC service (proto/room.proto): Deliver and DeliverBatch (through Delivery), Kick,
// Drain (through the owner's callback) and ListSessions. The plain methods below do the work;
// the protobuf ones check the request and wrap them. Loop-thread only.
class RoomRpcService final : public Room {
 public:
  // Longest kick reason accepted (it is shown to the user): more is INVALID_ARGUMENT.
  static constexpr size_t kMaxKickReasonBytes = 256;

  struct Context {
    const AppTable& apps;
    ConnectionTable& table;
    Sessions& sessions;
    ClientProtocol& protocol;
    Delivery& delivery;
    const std::string& room_id;
    const std::string& room_address;  // as sessions carry it (advertised)
    // Starts a drain (0: the configured window / deadline); returns the connections open.
    std::function<uint32_t(uint32_t window_ms, uint32_t deadline_ms)> drain;
  };
  explicit RoomRpcService(Context context) : ctx_(std::move(context)) {}

  // Kick frame and close for the sessions of (app, user), one device or all ("" device);
  // returns how many. An unknown app or user kicks nobody.
  uint32_t kick(const std::string& app, const std::string& user, const std::string& device,
                const std::string& reason);
  Status listSessions(const ListSessionsRequest& request, ListSessionsResponse* response) const;

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
  Context ctx_;
};

}  // namespace push::room
