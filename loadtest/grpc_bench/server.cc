#include "loadtest/grpc_bench/server.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench.grpc.pb.h"
#include "loadtest/grpc_bench/cq_waiter.h"

namespace push::grpcbench {

namespace {

// Set once when the server starts stopping. Guarded by a mutex rather than an atomic because
// "check, then post a slot" must not interleave with the stop sequence: posting to a CQ that
// has been shut down aborts the process. Uncontended in steady state.
std::mutex g_stop_mutex;
bool g_stopping = false;

// One pre-posted request slot. It cycles: posted (waiting for a call) -> replying (Finish
// issued) -> posted again. All its events arrive on one CQ and are handled by that CQ's
// thread, so it needs no lock of its own.
class EchoSlot {
 public:
  EchoSlot(GrpcEcho::AsyncService* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq) {}

  // Posts the slot for the next incoming Echo call. Call with g_stop_mutex held (or before
  // the stop thread exists) and only while !g_stopping.
  void post() {
    // The responder refers to the context, so it goes first. Neither can serve a second
    // call, so both are rebuilt.
    responder_.reset();
    context_ = std::make_unique<grpc::ServerContext>();
    responder_ = std::make_unique<grpc::ServerAsyncResponseWriter<EchoResponse>>(context_.get());
    request_.Clear();
    replying_ = false;
    service_->RequestEcho(context_.get(), &request_, responder_.get(), cq_, cq_, this);
  }

  // Handles this slot's CQ event. `ok` false means the server is shutting down (request) or
  // the reply was not sent (finish; e.g. the client cancelled).
  void onEvent(bool ok) {
    if (!replying_ && ok) {
      replying_ = true;
      response_.set_message(request_.message());
      response_.set_payload(request_.payload());
      responder_->Finish(response_, grpc::Status::OK, this);
      return;
    }
    std::lock_guard<std::mutex> lock(g_stop_mutex);
    if (!g_stopping) post();
  }

 private:
  GrpcEcho::AsyncService* service_;
  grpc::ServerCompletionQueue* cq_;
  std::unique_ptr<grpc::ServerContext> context_;
  std::unique_ptr<grpc::ServerAsyncResponseWriter<EchoResponse>> responder_;
  EchoRequest request_;
  EchoResponse response_;
  bool replying_ = false;
};

// Drives one completion queue until it is shut down and drained.
void serveQueue(grpc::ServerCompletionQueue* cq, const Tuning& tuning) {
  CqWaiter waiter(cq, tuning.spin_us, kIdleBeforeSleep, tuning.yield);
  void* tag = nullptr;
  bool ok = false;
  while (waiter.next(&tag, &ok))
    static_cast<EchoSlot*>(tag)->onEvent(ok);
}

// Returns when SIGINT/SIGTERM arrives (blocked in every thread, so only seen here) or when
// stdin reaches EOF or cannot be read.
void waitForStopRequest(const sigset_t& signals) {
  for (;;) {
    timespec zero{0, 0};
    if (sigtimedwait(&signals, nullptr, &zero) > 0) return;
    pollfd stdin_poll{STDIN_FILENO, POLLIN, 0};
    const int ready = poll(&stdin_poll, 1, 50);
    if (ready > 0) {
      char buffer[256];
      if (read(STDIN_FILENO, buffer, sizeof buffer) <= 0) return;
    }
  }
}

}  // namespace

int runServer(const ServerOptions& options) {
  // Block the stop signals before gRPC starts its threads, so they inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  GrpcEcho::AsyncService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(options.port),
                           grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  for (const auto& [name, value] : options.tuning.string_args) {
    builder.AddChannelArgument(name, value);
  }
  for (const auto& [name, value] : options.tuning.args)
    builder.AddChannelArgument(name, value);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  for (int i = 0; i < options.tuning.cqs; ++i)
    cqs.push_back(builder.AddCompletionQueue());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "grpc-bench server: cannot listen on 127.0.0.1:%d\n", options.port);
    return 1;
  }

  std::vector<std::unique_ptr<EchoSlot>> slots;
  for (auto& cq : cqs) {
    for (int i = 0; i < options.slots; ++i) {
      slots.push_back(std::make_unique<EchoSlot>(&service, cq.get()));
      slots.back()->post();
    }
  }

  std::printf("PORT %d\n", port);
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (size_t i = 1; i < cqs.size(); ++i) {
    threads.emplace_back(serveQueue, cqs[i].get(), std::cref(options.tuning));
  }
  std::thread stopper([&] {
    waitForStopRequest(signals);
    {
      std::lock_guard<std::mutex> lock(g_stop_mutex);
      g_stopping = true;
    }
    // In-flight calls get a moment to finish, then are cancelled; posted slots complete
    // with ok == false and are not re-posted.
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    for (auto& cq : cqs)
      cq->Shutdown();
  });
  serveQueue(cqs[0].get(), options.tuning);
  for (auto& thread : threads)
    thread.join();
  stopper.join();
  return 0;
}

}  // namespace push::grpcbench
