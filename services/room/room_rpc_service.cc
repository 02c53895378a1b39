#include "services/room/room_rpc_service.h"

#include "common/rpc/controller.h"
#include "services/room/room_server.h"

namespace push::room {

namespace pb = google::protobuf;

void RoomRpcService::Deliver(pb::RpcController* controller, const DeliverRequest* request,
                             DeliverResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  if (request->message().app().empty()) {
    static_cast<rpc::Controller*>(controller)->setStatus(invalidArgument("message.app is empty"));
    return;
  }
  room_.deliver(*request, response);
}

void RoomRpcService::DeliverBatch(pb::RpcController* controller, const DeliverBatchRequest* request,
                                  DeliverBatchResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  for (const DeliverRequest& item : request->items()) {
    if (item.message().app().empty()) {
      static_cast<rpc::Controller*>(controller)->setStatus(invalidArgument("message.app is empty"));
      response->Clear();
      return;
    }
  }
  for (const DeliverRequest& item : request->items())
    room_.deliver(item, response->add_items());
}

void RoomRpcService::Kick(pb::RpcController* controller, const KickRequest* request,
                          KickResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  if (request->app().empty() || request->user().empty()) {
    static_cast<rpc::Controller*>(controller)
        ->setStatus(invalidArgument("app and user are required"));
    return;
  }
  response->set_kicked(
      room_.kick(request->app(), request->user(), request->device(), request->reason()));
}

void RoomRpcService::Drain(pb::RpcController*, const DrainRequest* request, DrainResponse* response,
                           pb::Closure* done) {
  rpc::DoneGuard guard(done);
  response->set_sessions(room_.drainFromRpc(request->window_ms(), request->deadline_ms()));
}

void RoomRpcService::ListSessions(pb::RpcController* controller, const ListSessionsRequest* request,
                                  ListSessionsResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  Status st = room_.listSessions(*request, response);
  if (!st.isOk()) static_cast<rpc::Controller*>(controller)->setStatus(st);
}

}  // namespace push::room
