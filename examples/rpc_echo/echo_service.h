#pragma once

#include <string>

#include "proto/echo.pb.h"

namespace push::net {
class EventLoop;
}

namespace push::examples {

// EchoService: answers with the request's message and payload. Honors delay_ms (replies later,
// from a timer, so responses of one connection come back out of order) and fail_with (replies
// with that status code). Used by the README demo, the RPC tests and the RPC benchmark.
// Loop-thread only; the loop must outlive the service and its delayed replies.
class EchoServiceImpl final : public echo::EchoService {
 public:
  EchoServiceImpl(net::EventLoop& loop, std::string server_id);

  void Echo(google::protobuf::RpcController* controller, const echo::EchoRequest* request,
            echo::EchoResponse* response, google::protobuf::Closure* done) override;

  uint64_t calls() const { return calls_; }

 private:
  net::EventLoop& loop_;
  std::string server_id_;
  uint64_t calls_ = 0;
};

}  // namespace push::examples
