#include "examples/rpc_echo/echo_service.h"

#include <uv.h>

#include "common/net/event_loop.h"
#include "common/rpc/controller.h"

namespace push::examples {

EchoServiceImpl::EchoServiceImpl(net::EventLoop& loop, std::string server_id)
    : loop_(loop), server_id_(std::move(server_id)) {}

void EchoServiceImpl::Echo(google::protobuf::RpcController* controller,
                           const echo::EchoRequest* request, echo::EchoResponse* response,
                           google::protobuf::Closure* done) {
  rpc::DoneGuard guard(done);
  ++calls_;
  auto* ctrl = static_cast<rpc::Controller*>(controller);
  if (request->fail_with() != 0) {
    ctrl->setStatus(Status(static_cast<Code>(request->fail_with()), "failed as asked"));
    return;
  }
  response->set_message(request->message());
  response->set_payload(request->payload());
  response->set_server_id(server_id_);
  if (request->delay_ms() == 0) return;

  // Reply later from a one-shot timer (a heap object freed in its close callback).
  struct Delay {
    uv_timer_t timer;
    google::protobuf::Closure* done;
  };
  auto* delay = new Delay{};
  delay->done = guard.release();
  uv_timer_init(loop_.uvLoop(), &delay->timer);
  delay->timer.data = delay;
  uv_timer_start(
      &delay->timer,
      [](uv_timer_t* t) {
        auto* d = static_cast<Delay*>(t->data);
        d->done->Run();
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<Delay*>(h->data); });
      },
      request->delay_ms(), 0);
}

}  // namespace push::examples
