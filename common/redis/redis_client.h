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
#include "common/net/inet_address.h"
#include "common/net/owning_ptrs.h"
#include "common/redis/reply.h"

struct redisReader;

namespace push::net {
class EventLoop;
class TcpConnection;
class TcpConnector;
}  // namespace push::net

namespace push::redis {

// A pipelined Redis client on the project's loop (common/net), one connection:
//
//   ASSIGN_OR_RETURN(auto redis, redis::RedisClient::create(loop, "127.0.0.1:6379", {}));
//   redis->command({"HINCRBY", "job:1", "done", "1"}, [](Result<redis::Reply> r) { ... });
//
// Commands go out as RESP arrays of bulk strings the moment they are made (many in flight);
// Redis answers in order, so the callbacks wait in a FIFO. Replies are parsed by hiredis's
// reader (<hiredis/read.h>), not by hand.
//
// The connection is made on the first command and re-made after it breaks, with jittered
// exponential backoff (reconnect_min doubling up to reconnect_max, reset once a connection is
// up). Commands made while there is no connection wait for the next one (up to `timeout`).
//
// Completion: `done` runs exactly once, on the loop thread, with
//   the reply                (nil, status, integer, string, array);
//   FAILED_PRECONDITION      Redis answered an error ("ERR ...", "WRONGTYPE ...", "NOSCRIPT
//                            ..."): the message is its text; the connection stays up;
//   INVALID_ARGUMENT         no arguments: refused INSIDE the call;
//   OVERLOADED               over max_inflight: refused INSIDE the call;
//   UNAVAILABLE              the connection attempt failed while the command waited (not sent),
//                            or the connection broke after it was sent (it may have run);
//   TIMEOUT                  no reply within `timeout` of the call. A sent command overdue means
//                            the stream is stuck: the connection is closed and every command
//                            sent on it fails TIMEOUT too (they may have run);
//   PROTOCOL_ERROR           the reply stream could not be parsed (connection closed, every
//                            command sent on it fails so);
//   CANCELLED                the client was destroyed first (inside its destructor).
// Apart from the INSIDE cases, `done` never runs inside the call that made the command. A
// `done` may make more commands or destroy the client.
//
// Not supported yet: AUTH, SELECT, RESP3, pub/sub (a subscribed connection breaks the FIFO).
// Loop-thread only. Not copyable.
class RedisClient {
 public:
  struct Options {
    // Connect attempt deadline. Default: 2 s.
    std::chrono::milliseconds connect_timeout{2'000};
    // A command's deadline, from the call to its reply. Default: 2 s.
    std::chrono::milliseconds timeout{2'000};
    // Reconnect backoff: first delay and cap; doubles per failed attempt, +-25% jitter.
    // Defaults: 100 ms, 5 s.
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{5'000};
    // Commands waiting or sent and not answered, above which a command fails OVERLOADED.
    // Default: 100000.
    uint32_t max_inflight = 100'000;
    // Bytes queued on the socket above which the connection is closed as a slow peer (every
    // command sent on it fails UNAVAILABLE). Default: 64 MiB.
    size_t max_output_bytes = 64u << 20;
  };
  using Done = std::function<void(Result<Reply>)>;

  struct Stats {
    uint64_t replies = 0;   // commands completed with a reply
    uint64_t errors = 0;    // error replies (FAILED_PRECONDITION)
    uint64_t failed = 0;    // commands completed with any other non-OK status
    uint64_t connects = 0;  // connections made
  };

  // `address` is a numeric "host:port". INVALID_ARGUMENT for a bad address or options.
  // Nothing connects until the first command.
  static Result<std::unique_ptr<RedisClient>> create(net::EventLoop& loop, std::string_view address,
                                                     Options options);
  // Every command still pending completes CANCELLED, inside the destructor.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends `args` as one command (args[0] is its name).
  void command(std::vector<std::string> args, Done done);

  // Commands waiting or sent and not answered yet.
  size_t inflight() const { return waiting_.size() + sent_.size(); }
  bool connected() const { return conn_ != nullptr; }
  const Stats& stats() const { return stats_; }
  const net::InetAddress& address() const { return addr_; }

  // The RESP encoding of a command: *<n>\r\n then $<len>\r\n<bytes>\r\n per argument.
  static std::string encode(const std::vector<std::string>& args);

 private:
  class Link;  // the connection's handler; outlives this object until the socket is closed
  struct Command {
    std::string bytes;
    Done done;
    int64_t deadline_ms = 0;
  };

  RedisClient(net::EventLoop& loop, const net::InetAddress& addr, Options options);
  void connect();
  void onConnected(net::TcpConnection* conn);
  void onTick();
  // From Link: bytes read (returns how many were used: all), and the socket closed.
  size_t onData(const char* data, size_t len);
  void onLinkClosed(const Status& why);
  // Closes the connection now and fails what was sent on it with `why`.
  void dropConnection(const Status& why);
  void scheduleReconnect();
  void complete(Command& command, Result<Reply> result);

  net::EventLoop& loop_;
  const net::InetAddress addr_;
  const Options options_;
  net::PeriodicTimerPtr timer_;
  Link* link_ = nullptr;                    // set while a socket is open (or closing)
  net::TcpConnection* conn_ = nullptr;      // set while connected
  net::TcpConnector* connector_ = nullptr;  // set while connecting
  redisReader* reader_ = nullptr;
  std::deque<Command> waiting_;  // not sent yet
  std::deque<Command> sent_;     // sent; replies come in this order
  int64_t retry_at_ms_ = 0;
  uint32_t backoff_ms_ = 0;
  uint64_t rng_ = 0x2545f4914f6cdd1dull;
  Stats stats_;
  Liveness liveness_;
};

}  // namespace push::redis
