// push-echo-client: calls EchoService and prints each reply.
//
//   push-echo-client --server HOST:PORT[,HOST:PORT...] [--message TEXT] [--count N]
//                    [--timeout-ms MS] [--lb
//                    round_robin|weighted_round_robin|random|consistent_hash]
//
// Exit status 0 when every call succeeded, 1 otherwise.
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "proto/echo.pb.h"

int main(int argc, char** argv) {
  using namespace push;
  std::string servers, message = "hello", lb = "round_robin";
  int count = 1, timeout_ms = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    if (arg == "--server") {
      servers = argv[i + 1];
    } else if (arg == "--message") {
      message = argv[i + 1];
    } else if (arg == "--count") {
      count = std::atoi(argv[i + 1]);
    } else if (arg == "--timeout-ms") {
      timeout_ms = std::atoi(argv[i + 1]);
    } else if (arg == "--lb") {
      lb = argv[i + 1];
    } else {
      std::fprintf(stderr, "push-echo-client: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  if (servers.empty() || count < 1 || timeout_ms < 1) {
    std::fprintf(stderr,
                 "usage: push-echo-client --server HOST:PORT[,...] [--message TEXT] [--count N] "
                 "[--timeout-ms MS] [--lb NAME]\n");
    return 2;
  }
  std::vector<std::string> addresses;
  std::stringstream ss(servers);
  for (std::string a; std::getline(ss, a, ',');)
    addresses.push_back(a);

  net::EventLoop loop;
  rpc::Channel::Options options;
  options.load_balancer = lb;
  options.timeout = std::chrono::milliseconds(timeout_ms);
  auto channel = rpc::Channel::create(loop, options);
  if (!channel.isOk()) {
    std::fprintf(stderr, "push-echo-client: %s\n", channel.status().toString().c_str());
    return 2;
  }
  rpc::ChannelPtr ch = std::move(channel).value();
  if (Status st = ch->setEndpoints(addresses); !st.isOk()) {
    std::fprintf(stderr, "push-echo-client: %s\n", st.toString().c_str());
    return 2;
  }
  echo::EchoService_Stub stub(ch.get());
  int done = 0, failed = 0;
  struct CallState {
    rpc::Controller controller;
    echo::EchoRequest request;
    echo::EchoResponse response;
  };
  std::vector<CallState> calls(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    CallState& c = calls[static_cast<size_t>(i)];
    c.request.set_message(count == 1 ? message : message + " #" + std::to_string(i + 1));
    stub.Echo(&c.controller, &c.request, &c.response, rpc::newCallback([&, i] {
      CallState& r = calls[static_cast<size_t>(i)];
      ++done;
      if (r.controller.status().isOk()) {
        std::printf("reply from %s (%s) in %lld us: %s\n", r.response.server_id().c_str(),
                    r.controller.remote().c_str(), static_cast<long long>(r.controller.latencyUs()),
                    r.response.message().c_str());
      } else {
        ++failed;
        std::printf("call %d failed: %s\n", i + 1, r.controller.status().toString().c_str());
      }
    }));
  }
  loop.runUntil([&] { return done == count; }, std::chrono::milliseconds(timeout_ms + 5000));
  ch.reset();
  Status st = loop.shutdown();
  if (!st.isOk()) std::fprintf(stderr, "push-echo-client: %s\n", st.toString().c_str());
  std::fflush(stdout);
  return failed == 0 && done == count ? 0 : 1;
}
