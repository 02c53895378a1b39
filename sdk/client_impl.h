#pragma once

// Client::Impl, the inside of push::sdk::Client, and its Link (one connection to one room).
// Internal to the SDK: only sdk/client*.cc include it. Its methods are defined in three files
// by concern:
//   client.cc         creation, the public methods (any thread), the SDK thread's start and
//                     end
//   client_links.cc   connection attempts (resolve, connect), closing, failover and
//                     reconnect, the state machine and close()
//   client_frames.cc  the wire protocol on one link: frames in and out, acks, heartbeat and
//                     the per-link timer
//   client_route.cc   where to connect: the dispatcher's routes cached per network type, the
//                     fallback list, network changes

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/base/backoff.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"
#include "common/net/tcp_connection.h"
#include "proto/client.pb.h"
#include "sdk/client.h"
#include "sdk/dedup_window.h"
#include "sdk/http_get.h"
#include "sdk/server_address.h"

namespace push::net {
class HostResolver;
class TcpConnector;
}  // namespace push::net

namespace push::sdk {

class Client::Impl {
 public:
  Impl(ClientOptions options, std::vector<ServerAddress> servers,
       std::optional<HttpUrl> dispatcher);
  ~Impl();

  // Any thread.
  Status setCallbacks(Callbacks callbacks);
  Status connect();
  Status ack(uint64_t message_id);
  Result<uint64_t> sendUpstream(std::string_view app, std::string_view payload,
                                std::string_view type);
  Status setToken(std::string token);
  Status setNetworkType(Network network);
  Status bind(std::string token);
  Status unbind(std::string app);
  Result<uint64_t> tagRequest(std::string app, std::vector<std::string> tags, bool subscribe);
  void close();
  uint64_t lastBroadcastSeq(const std::string& app) const;
  Status setLastBroadcastSeq(const std::string& app, uint64_t seq);
  State state() const { return state_.load(std::memory_order_acquire); }
  bool onSdkThread() const {
    return sdk_thread_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }
  // For ~Client on the SDK thread: close, and delete this object when the thread ends.
  void closeAndDeleteWhenDone();

 private:
  struct Link;
  enum class Role { Primary, Next, Other };
  struct PendingUpstream {
    uint64_t seq;
    std::string app;
    std::string type;
    std::string payload;
  };
  struct TagRequest {
    uint64_t seq;  // 0: the re-subscription after a reconnect
    std::string app;
    std::vector<std::string> tags;
    bool subscribe;
  };
  // A dispatcher answer kept for one network type.
  struct CachedRoute {
    std::vector<ServerAddress> tcp;  // empty: none
    uint32_t heartbeat_s = 0;
    int64_t expires_ms = 0;  // loop time
  };
  struct BindEntry {
    std::string token;
    std::string app;  // empty until the room confirmed it
  };

  void threadMain();

  // Everything below runs on the SDK thread.
  void startInLoop();
  void connectInLoop();
  void openLink();

  // Routing (client_route.cc). True when targets_ may be used for a connection attempt now;
  // false when a dispatcher request was started (or is running): openLink() runs again when
  // it is answered.
  bool ensureTargets();
  void startRouteFetch();
  void onRouteAnswer(Network asked, Result<HttpGet::Response> result);
  // Makes `list` the addresses connection attempts walk, from the start.
  void useTargets(const std::vector<ServerAddress>& list, uint32_t heartbeat_s, int64_t until_ms,
                  bool from_dispatcher);
  // A connection attempt of `link` failed before it was online: counts towards asking the
  // dispatcher again.
  void noteAttemptFailed(const Link& link);
  // The next attempt goes to the address after the link's (if targets_ are still the ones it
  // used; a new list starts from its beginning anyway).
  void advancePast(const Link& link);
  void onNetworkChange(Network network);
  void onResolved(Link& link, Result<std::vector<net::InetAddress>> result);
  // Connects to link.candidates[link.candidate].
  void connectCandidate(Link& link);
  void onConnected(Link& link, Result<net::TcpConnection*> result);
  size_t onLinkData(Link& link, const char* data, size_t len);
  void onLinkClosed(Link& link, net::TcpConnection::CloseReason reason);
  void onLinkTimer(Link& link);
  void onFrame(Link& link, const client::Frame& frame);
  void onAuthResult(Link& link, const client::AuthResult& result);
  void onPush(Link& link, const client::Push& push);
  void onUpstreamAck(Link& link, const client::UpstreamAck& ack);
  void onBindResult(Link& link, const client::BindResult& result);
  void onSubscribeResult(Link& link, const client::SubscribeResult& result);
  void onReconnect(Link& link, const client::Reconnect& reconnect);
  void onErrorFrame(Link& link, const client::Error& error);

  bool sendFrame(Link& link, const client::Frame& frame);
  void sendAuth(Link& link);
  void sendBind(Link& link, const std::string& token);
  void sendTagRequest(Link& link, TagRequest request);
  // Sends the queued tag requests when online.
  void flushTagQueue();
  void sendUpstreamFrame(Link& link, PendingUpstream up);
  void flushAcks(Link& link);
  void flushManualAcks();
  void armHeartbeat(Link& link);

  Role roleOf(const Link& link) const;
  // Closes the link's connection (graceful: acks flushed, FIN, wait for the room's FIN, at
  // most close_timeout) and takes it out of primary_/next_. The Link is deleted once its
  // connection, connector or resolver has finished (removeLink). Idempotent.
  void closeLink(Link& link, bool graceful);
  // The link failed: close it, report `code` (unless 0), and connect again as needed.
  void linkFailed(Link& link, int code, const std::string& why, bool graceful);
  void removeLink(Link& link);
  void retire(Link& link);
  void scheduleRetry(std::chrono::milliseconds delay, bool report);
  void onRetryTimer();
  bool reconnectAllowed() const;
  void enterTerminal(State state, std::string detail);
  // Sets state_ unless close() made it Closed (close() may run on another thread meanwhile).
  void storeState(State state);
  void setState(State state, std::string detail);
  void closeInLoop();
  void maybeFinishClose();
  Link* onlineLink() const;
  // Work posted before close() that runs after it is dropped.
  bool stopped() const { return closing_ || closed_.load(std::memory_order_acquire); }
  void failUpstream(uint64_t seq, int code, const std::string& message);
  // Raises the app's last broadcast sequence to `seq` (never lowers it); with `if_none`, only
  // when the app has none yet (a room's latest: a starting position, not something seen).
  void noteBroadcastSeq(const std::string& app, uint64_t seq, bool if_none);

  template <typename Fn, typename... Args>
  void invoke(const Fn& fn, Args&&... args);

  // Immutable after create().
  const ClientOptions options_;
  const std::vector<ServerAddress> servers_;  // the configured list (fallback with a dispatcher)
  const std::optional<HttpUrl> dispatcher_;
  net::TcpConnection::Limits limits_;

  net::EventLoop loop_;
  std::thread thread_;
  std::atomic<std::thread::id> sdk_thread_{};
  std::atomic<State> state_{State::Disconnected};
  std::atomic<bool> closed_{false};    // close() called: no more callbacks, no more work
  std::atomic<uint64_t> next_seq_{1};  // upstream seqs
  std::atomic<size_t> upstream_pending_{0};

  std::mutex mu_;                  // guards started_, callbacks_ (until started), join
  bool started_ = false;           // the SDK thread exists
  Callbacks callbacks_;            // read-only on the SDK thread once started_
  std::mutex join_mu_;             // one joiner at a time
  bool delete_when_done_ = false;  // SDK thread only

  // App -> highest broadcast sequence seen (lastBroadcastSeq), read and set from any thread.
  mutable std::mutex seq_mu_;
  std::map<std::string, uint64_t> broadcast_seqs_;

  // SDK thread only.
  std::string token_;
  net::PeriodicTimerPtr retry_timer_;  // reset by closeInLoop(), before the loop shuts down
  Backoff backoff_;
  DedupWindow dedup_;
  std::list<std::unique_ptr<Link>> links_;  // every link not yet finished
  Link* primary_ = nullptr;                 // the connection the state describes
  Link* next_ = nullptr;                    // make-before-break: the replacement being established
  size_t server_index_ = 0;                 // where the next connection attempt goes (targets_)
  Network network_;                         // sent in Auth; picks the cached route
  // Routing (client_route.cc): the list attempts walk now (the configured servers, or a
  // dispatcher route), replaced whole (route_gen_ counts replacements).
  std::vector<ServerAddress> targets_;
  uint64_t route_gen_ = 0;
  uint32_t targets_heartbeat_s_ = 0;  // the route's heartbeat hint; 0: none
  int64_t targets_until_ms_ = 0;      // loop time after which the dispatcher is consulted again
  bool targets_from_dispatcher_ = false;
  bool route_stale_ = true;            // consult cache or dispatcher before the next attempt
  std::array<CachedRoute, 4> routes_;  // by Network
  uint32_t route_retry_ = 0;           // `retry` of the next dispatcher request
  uint32_t failures_in_row_ = 0;       // attempts failed on targets_ since the last success
  HttpGet* route_fetch_ = nullptr;     // the dispatcher request in flight
  uint64_t link_serial_ = 0;
  std::deque<PendingUpstream> upstream_queue_;  // waiting to be online
  std::deque<uint64_t> manual_acks_;            // ack() calls not written yet
  bool manual_flush_posted_ = false;
  std::vector<BindEntry> binds_;
  // Tags per app, as the app asked (minus refusals): subscribed again after every reconnect.
  std::map<std::string, std::set<std::string>> subscribed_;
  std::deque<TagRequest> tag_queue_;  // subscribe()/unsubscribe() waiting to be online
  client::Frame frame_;               // parsing reuses its memory
  bool closing_ = false;
};

// One connection to one room, from the connect attempt until its connection has closed.
// It is the TcpConnection's handler; the Impl owns it (links_).
struct Client::Impl::Link final : net::TcpConnection::Handler {
  enum class Phase : uint8_t { Connecting, Authenticating, Online, Closing };

  Link(Impl& owner, size_t server_index, uint64_t id)
      : impl(owner), server(server_index), serial(id) {}

  size_t onData(net::TcpConnection&, const char* data, size_t len) override {
    return impl.onLinkData(*this, data, len);
  }
  void onClosed(net::TcpConnection&, net::TcpConnection::CloseReason reason) override {
    impl.onLinkClosed(*this, reason);
  }

  Impl& impl;
  const size_t server;                     // index into targets_ (of route_gen)
  ServerAddress address;                   // targets_[server] when the link was opened
  uint64_t route_gen = 0;                  // the targets_ it was opened on
  uint32_t heartbeat_hint_s = 0;           // the route's hint, when the room proposes none
  const uint64_t serial;                   // for logs
  net::HostResolver* resolver = nullptr;   // while the server's name is being resolved
  net::TcpConnector* connector = nullptr;  // while the connect is in progress
  // The addresses of the server (one when numeric, the resolver's answer otherwise), tried
  // in order within this attempt until one connects.
  std::vector<net::InetAddress> candidates;
  size_t candidate = 0;
  // The attempt's one deadline (ClientOptions::connect_timeout from openLink): the lookup and
  // every candidate's connect share it.
  std::chrono::steady_clock::time_point connect_deadline;
  net::TcpConnection* conn = nullptr;  // from connected until onClosed
  // Authenticating: the auth deadline. Online: heartbeat and liveness (or the switch grace
  // when retiring). Closing: the bound on a graceful close.
  net::PeriodicTimerPtr timer;
  Phase phase = Phase::Connecting;
  bool was_online = false;
  bool retiring = false;  // replaced by a newer connection; closes after switch_grace
  uint32_t heartbeat_s = 0;
  int64_t last_send_ms = 0;
  int64_t last_recv_ms = 0;
  int64_t online_since_ms = 0;
  std::string room;
  std::vector<uint64_t> acks;               // written at the end of this loop turn
  std::vector<uint64_t> upstream_inflight;  // seqs waiting for UpstreamAck
  std::deque<std::string> binds_inflight;   // tokens of Binds waiting for BindResult
  std::deque<TagRequest> tags_inflight;     // waiting for SubscribeResult, in order
};

// Calls a user callback on the SDK thread, unless it is unset or close() was called.
template <typename Fn, typename... Args>
void Client::Impl::invoke(const Fn& fn, Args&&... args) {
  if (!fn || closed_.load(std::memory_order_acquire)) return;
  // A callback is user code called from a libuv callback: nothing may unwind through C.
  try {
    fn(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    LOG_ERROR(Sdk, "a callback threw (ignored): {}", e.what());
  } catch (...) {
    LOG_ERROR(Sdk, "a callback threw a non-std exception (ignored)");
  }
}

}  // namespace push::sdk
