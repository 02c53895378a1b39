#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/net/owning_ptrs.h"
#include "common/queue/client/nsq_connection.h"

namespace push::net {
class EventLoop;
}

namespace push::queue {

// Publishes to one nsqd (or queued) over one pipelined connection: commands go out as they
// come, and the daemon answers them in order, so the callbacks wait in a FIFO.
//
//   ASSIGN_OR_RETURN(auto producer, queue::Producer::create(loop, "127.0.0.1:4150", {}));
//   producer->publish("events", body, [](Status st) { ... });
//
// The connection is made on the first command and re-made after it breaks, with jittered
// exponential backoff (reconnect_min doubling up to reconnect_max, reset once a connection
// is up). Commands made while there is no connection wait for the next one (up to `timeout`).
//
// Completion: `done` runs exactly once, on the loop thread, with
//   OK                  the daemon answered OK: the message is stored (in memory or on disk);
//   INVALID_ARGUMENT    a bad topic name, an empty body or an empty MPUB: refused without
//                       sending, INSIDE the call; or the daemon's E_INVALID / E_BAD_TOPIC /
//                       E_BAD_BODY / E_BAD_MESSAGE answer (not stored);
//   OVERLOADED          over max_inflight or max_pending_bytes: refused without sending,
//                       INSIDE the call;
//   UNAVAILABLE         the connection attempt failed while the command waited (not sent), or
//                       the connection broke after it was sent and before its answer (it may or
//                       may not have been stored), or the daemon's E_PUB_FAILED / E_MPUB_FAILED
//                       / E_DPUB_FAILED (not stored: exiting, full);
//   UNAUTHENTICATED / PERMISSION_DENIED  the daemon's E_AUTH_FAILED / E_UNAUTHORIZED;
//   TIMEOUT             no answer within `timeout`: when it was sent, the connection is then
//                       closed (every command sent on it fails TIMEOUT too: they may have been
//                       stored); when it was still waiting, it was not sent;
//   CANCELLED           the producer was destroyed first (its destructor runs them).
// Apart from the two INSIDE cases, `done` never runs inside the call that queued it. A `done`
// may publish again or destroy the producer.
//
// Loop-thread only. Not copyable; destroy it on the loop thread.
class Producer final : private NsqConnection::Owner {
 public:
  struct Options {
    NsqConnection::Options connection;
    // Commands waiting or sent and not answered, above which a command fails OVERLOADED.
    // Default: 10000.
    uint32_t max_inflight = 10'000;
    // Bytes of those commands (lines and bodies). Default: 64 MiB.
    size_t max_pending_bytes = 64u << 20;
    // A command's deadline, from the call to the daemon's answer. Default: 10 s.
    std::chrono::milliseconds timeout{10'000};
    // Reconnect backoff: first delay and cap; doubles per failed attempt, +-25% jitter.
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{10'000};
  };
  using Done = std::function<void(Status)>;

  struct Stats {
    uint64_t ok = 0;        // commands answered OK
    uint64_t failed = 0;    // commands completed with any other status
    uint64_t connects = 0;  // connections that became ready
  };

  // `address` is a numeric "host:port" ("localhost" allowed). INVALID_ARGUMENT for a bad
  // address or options. Nothing connects until the first command.
  static Result<std::unique_ptr<Producer>> create(net::EventLoop& loop, std::string_view address,
                                                  Options options);
  // Every command still pending completes with CANCELLED, inside the destructor.
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // PUB: one message.
  void publish(std::string_view topic, std::string body, Done done);
  // MPUB: several messages, stored all or none.
  void multiPublish(std::string_view topic, std::vector<std::string> bodies, Done done);
  // DPUB: one message, delivered to consumers no earlier than `delay` from now (nsqd accepts
  // up to its --max-req-timeout, 1 h by default).
  void deferredPublish(std::string_view topic, std::chrono::milliseconds delay, std::string body,
                       Done done);

  // Commands waiting or sent and not answered yet.
  size_t inflight() const { return waiting_.size() + sent_.size(); }
  size_t pendingBytes() const { return pending_bytes_; }
  // A connection is up (IDENTIFY done).
  bool connected() const { return conn_ && conn_->ready(); }
  const Stats& stats() const { return stats_; }
  const net::InetAddress& address() const { return addr_; }

 private:
  struct Command {
    std::string line;                 // "PUB topic"
    std::string body;                 // PUB/DPUB
    std::vector<std::string> bodies;  // MPUB
    bool multi = false;
    Done done;
    int64_t deadline_ms = 0;
    size_t bytes = 0;
  };

  Producer(net::EventLoop& loop, const net::InetAddress& addr, Options options);

  void enqueue(Command command);
  void sendCommand(Command& command);
  void connect();
  void onTick();
  void scheduleReconnect();
  // Completes the command at the front of sent_.
  void completeFront(Status status);
  // Completes every command of `commands` (swapped out first: `done`s may re-enter).
  void completeAll(std::deque<Command>& commands, const Status& status);
  void complete(Command& command, Status status);

  // NsqConnection::Owner
  void onReady(NsqConnection& conn) override;
  void onResponse(NsqConnection& conn, std::string_view data) override;
  void onError(NsqConnection& conn, std::string_view data) override;
  void onMessage(NsqConnection& conn, const wire::MessageView& message) override;
  void onClosed(NsqConnection& conn, const Status& why) override;

  net::EventLoop& loop_;
  const net::InetAddress addr_;
  const Options options_;
  NsqConnectionPtr conn_;
  net::PeriodicTimerPtr timer_;
  std::deque<Command> waiting_;  // not sent yet
  std::deque<Command> sent_;     // sent; answers come in this order
  size_t pending_bytes_ = 0;
  int64_t retry_at_ms_ = 0;
  uint32_t backoff_ms_ = 0;
  bool conn_ready_ = false;  // conn_ got through IDENTIFY
  uint64_t rng_ = 0x9e3779b97f4a7c15ull;
  Stats stats_;
  Liveness liveness_;
};

// The Status for an nsqd Error frame ("E_BAD_TOPIC PUB topic name ... is not valid"):
// E_INVALID, E_BAD_* -> INVALID_ARGUMENT; E_*PUB_FAILED -> UNAVAILABLE; E_AUTH_FAILED ->
// UNAUTHENTICATED; E_UNAUTHORIZED -> PERMISSION_DENIED; E_FIN/REQ/TOUCH_FAILED ->
// FAILED_PRECONDITION; anything else -> INTERNAL. The message is the frame's text.
Status statusFromNsqError(std::string_view error);

}  // namespace push::queue
