#pragma once

#include <google/protobuf/service.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace push::rpc {

// Per-call settings and outcome, on both sides of a call (brpc's Controller shape).
//
// Client: set the timeout and hash key before the call; after `done` runs, status() says what
// happened (OK, TIMEOUT, UNAVAILABLE, OVERLOADED, or the server's code). One call at a time per
// Controller; Reset() before reusing it.
// Server: the handler reads remaining time and peer, and reports an error with setStatus()
// (or SetFailed(), which means INTERNAL) before running `done`.
class Controller : public google::protobuf::RpcController {
 public:
  Controller() = default;

  // --- client side ---
  // Deadline for this call, counted from the call. Default (0): the channel's timeout.
  void setTimeout(std::chrono::milliseconds timeout) { timeout_ms_ = timeout.count(); }
  int64_t timeoutMs() const { return timeout_ms_; }
  // Key for the consistent-hash balancer (e.g. hash64(user)); other balancers ignore it.
  void setHashKey(uint64_t key) { hash_key_ = key; }
  uint64_t hashKey() const { return hash_key_; }
  // Microseconds from the call to its completion.
  int64_t latencyUs() const { return latency_us_; }
  // "host:port" of the endpoint that served the call (empty if it was never sent).
  const std::string& remote() const { return remote_; }

  // --- both sides ---
  const Status& status() const { return status_; }
  Code code() const { return status_.code(); }
  void setStatus(Status status) { status_ = std::move(status); }

  // --- server side ---
  // Milliseconds until the client gives up (INT64_MAX when it set no deadline).
  int64_t remainingMs() const;
  const std::string& peer() const { return remote_; }

  // google::protobuf::RpcController
  void Reset() override;
  bool Failed() const override { return !status_.isOk(); }
  std::string ErrorText() const override { return status_.toString(); }
  void StartCancel() override {}  // cancellation is not supported; use timeouts
  void SetFailed(const std::string& reason) override { status_ = internalError(reason); }
  bool IsCanceled() const override { return false; }
  void NotifyOnCancel(google::protobuf::Closure* callback) override {}

  // Internal (Channel/Server).
  void setLatencyUs(int64_t us) { latency_us_ = us; }
  // Copies only when it changed (a controller reused for calls to one endpoint).
  void setRemote(std::string_view remote) {
    if (remote_ != remote) remote_.assign(remote);
  }
  void setDeadlineMonoMs(int64_t ms) { deadline_mono_ms_ = ms; }
  int64_t deadlineMonoMs() const { return deadline_mono_ms_; }

 private:
  Status status_;
  int64_t timeout_ms_ = 0;
  uint64_t hash_key_ = 0;
  int64_t latency_us_ = 0;
  int64_t deadline_mono_ms_ = 0;  // 0: none
  std::string remote_;
};

// A Closure running `fn` once, then deleting itself.
google::protobuf::Closure* newCallback(std::function<void()> fn);

// Runs `done` when it goes out of scope unless release()d: a handler that returns early (or
// forgets) still completes its call exactly once (docs/CONVENTIONS.md §9).
//
//   void Echo(RpcController* c, const Req* req, Resp* resp, Closure* done) override {
//     DoneGuard guard(done);
//     if (bad) { static_cast<Controller*>(c)->setStatus(invalidArgument("...")); return; }
//     ...
//   }
class DoneGuard {
 public:
  explicit DoneGuard(google::protobuf::Closure* done) : done_(done) {}
  ~DoneGuard() {
    if (done_) done_->Run();
  }
  DoneGuard(const DoneGuard&) = delete;
  DoneGuard& operator=(const DoneGuard&) = delete;
  // Hands the closure back (for replying later, asynchronously).
  google::protobuf::Closure* release() {
    auto* d = done_;
    done_ = nullptr;
    return d;
  }

 private:
  google::protobuf::Closure* done_;
};

}  // namespace push::rpc
