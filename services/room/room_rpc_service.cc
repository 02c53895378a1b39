#include "services/room/room_rpc_service.h"

#include <vector>

#include "common/rpc/controller.h"
#include "services/room/app_table.h"
#include "services/room/client_protocol.h"
#include "services/room/connection_table.h"
#include "services/room/delivery.h"
#include "services/room/room_metrics.h"
#include "services/room/sessions.h"

namespace push::room {

namespace pb = google::protobuf;

namespace {
void setError(pb::RpcController* controller, Status status) {
  static_cast<rpc::Controller*>(controller)->setStatus(std::move(status));
}
}  // namespace

uint32_t RoomRpcService::kick(const std::string& app_name, const std::string& user,
                              const std::string& device, const std::string& reason) {
  const int app = ctx_.apps.find(app_name);
  if (app < 0) return 0;
  auto span = ctx_.sessions.connectionsOf(static_cast<uint16_t>(app), user);
  const std::vector<net::ConnId> ids(span.begin(), span.end());  // closing edits the index
  uint32_t kicked = 0;
  for (net::ConnId id : ids) {
    ClientConn* c = ctx_.table.find(id);
    if (!c || c->state != ConnState::Active) continue;
    if (!device.empty() && c->device != device) continue;
    ctx_.protocol.kick(*c, reason.empty() ? "kicked by operator" : reason);
    ++kicked;
  }
  roomMetrics().kicks.inc(kicked);
  return kicked;
}

Status RoomRpcService::listSessions(const ListSessionsRequest& request,
                                    ListSessionsResponse* response) const {
  return ctx_.sessions.list(request, ctx_.room_id, ctx_.room_address, response);
}

void RoomRpcService::Deliver(pb::RpcController* controller, const DeliverRequest* request,
                             DeliverResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  if (request->message().app().empty()) {
    return setError(controller, invalidArgument("message.app is empty"));
  }
  ctx_.delivery.deliver(*request, response);
}

void RoomRpcService::DeliverBatch(pb::RpcController* controller, const DeliverBatchRequest* request,
                                  DeliverBatchResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  for (const DeliverRequest& item : request->items()) {
    if (item.message().app().empty()) {
      response->Clear();
      return setError(controller, invalidArgument("message.app is empty"));
    }
  }
  for (const DeliverRequest& item : request->items())
    ctx_.delivery.deliver(item, response->add_items());
}

void RoomRpcService::Kick(pb::RpcController* controller, const KickRequest* request,
                          KickResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  if (request->app().empty() || request->user().empty()) {
    return setError(controller, invalidArgument("app and user are required"));
  }
  if (request->reason().size() > kMaxKickReasonBytes) {
    return setError(controller, invalidArgument("reason over " +
                                                std::to_string(kMaxKickReasonBytes) + " bytes"));
  }
  response->set_kicked(kick(request->app(), request->user(), request->device(), request->reason()));
}

void RoomRpcService::Drain(pb::RpcController*, const DrainRequest* request, DrainResponse* response,
                           pb::Closure* done) {
  rpc::DoneGuard guard(done);
  response->set_sessions(ctx_.drain(request->window_ms(), request->deadline_ms()));
}

void RoomRpcService::ListSessions(pb::RpcController* controller, const ListSessionsRequest* request,
                                  ListSessionsResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  Status st = listSessions(*request, response);
  if (!st.isOk()) setError(controller, std::move(st));
}

}  // namespace push::room
