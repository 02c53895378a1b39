#pragma once

// The push client SDK, C++ API. Mobile apps usually link the C API instead
// (sdk/include/push/push_client.h), which wraps this class. The wire protocol it speaks is
// sdk/PROTOCOL.md.
//
// This is a public header. It exposes no libuv or net types and no protobuf message, but it
// is not protobuf-free: push::Status and push::Result (common/base/status.h, result.h) carry a
// push::Code, the enum generated from proto/status.proto, so status.h includes the generated
// proto/status.pb.h and with it protobuf's runtime headers (<google/protobuf/...>). A C++ app
// compiling against this header therefore needs those headers and links libprotobuf (which
// libpush_sdk needs anyway). Apps that want none of that use the C API
// (sdk/include/push/push_client.h: plain C types only).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/base/status.h"

namespace push::sdk {

// Where the client is. Transitions are reported through Callbacks::on_state.
enum class State : uint8_t {
  Disconnected,    // created, connect() not called yet
  Connecting,      // TCP connect to a room in progress
  Authenticating,  // Auth sent, waiting for AuthResult
  Online,          // authenticated: pushes arrive
  Backoff,         // waiting before the next connection attempt
  NeedsToken,      // the room refused the token (bad, expired, unknown app, forbidden):
                   // nothing happens until setToken()
  Kicked,          // the operator removed the session: nothing happens until connect()
  Closed,          // close() was called; final
};
// "disconnected", "connecting", "authenticating", "online", "backoff", "needs_token",
// "kicked", "closed".
const char* stateName(State state);

// Network type sent in Auth; the room picks the heartbeat interval from it. Values equal
// push.client.NetworkType.
enum class Network : uint8_t { Unknown = 0, Wifi = 1, Cellular = 2, Ethernet = 3 };
// "unknown", "wifi", "cellular", "ethernet" (as the dispatcher's `net` parameter).
const char* networkName(Network network);

// Error codes reported to Callbacks::on_error and on_upstream_ack. 1..999 are
// push.client.ErrorCode values from the room (sdk/PROTOCOL.md has the table); the SDK's own
// start at 1000.
inline constexpr int kErrorNone = 0;
inline constexpr int kErrorConnectFailed = 1000;     // name lookup or TCP connect failed or
                                                     // timed out
inline constexpr int kErrorConnectionLost = 1001;    // the connection closed unexpectedly
inline constexpr int kErrorHeartbeatTimeout = 1002;  // nothing from the room for 2.5 intervals
inline constexpr int kErrorAuthTimeout = 1003;       // no AuthResult within auth_timeout
inline constexpr int kErrorProtocol = 1004;          // the room sent something that is not the
                                                     // protocol (bad frame, oversized frame)
// "ERROR_BAD_TOKEN", "SDK_CONNECT_FAILED", ...; "UNKNOWN" for codes not listed.
const char* errorName(int code);

// One pushed message. Valid during the callback only; copy what you keep.
struct Message {
  uint64_t id = 0;  // platform-unique; the SDK already dropped duplicates
  std::string app;
  std::string payload;      // bytes, not necessarily text
  uint32_t qos = 0;         // 0: fire and forget; 1: at least once (acked)
  uint64_t created_ms = 0;  // when the operator sent it, platform wall clock
  // 0 for a message to this user; for a broadcast, the app's broadcast sequence (1, 2, ...).
  uint64_t broadcast_seq = 0;
  // The tag a broadcast targeted (see Client::subscribe); empty otherwise.
  std::string tag;
};

// Tag names (sdk/PROTOCOL.md "Tags"): 1..64 bytes of [A-Za-z0-9_.:-].
bool validTag(std::string_view tag);
// Upstream types (sdk/PROTOCOL.md 8): empty, or at most 64 bytes of [A-Za-z0-9._-].
bool validUpstreamType(std::string_view type);

struct ClientOptions {
  // Room addresses "host:port" (the fallback list when `dispatcher` is set): numeric
  // ("127.0.0.1:7100", "[::1]:7100"; "localhost" is 127.0.0.1) or a host name
  // ("push.example.com:7100"), resolved off the SDK thread before every connection attempt, its
  // addresses tried in the resolver's order. One attempt (the lookup and the connects to every
  // address) has one deadline, connect_timeout: each address gets an equal part of what is left
  // (the last all of it). A failed lookup or attempt is reported as kErrorConnectFailed.
  // Servers are tried in order; every failed attempt moves to the next one. Required unless
  // `dispatcher` is set.
  std::vector<std::string> servers;
  // Auth token from the app's server (sdk/PROTOCOL.md "Token"). Empty: connect() goes to
  // NeedsToken and waits for setToken().
  std::string token;
  // Sent in Auth; decides the heartbeat interval the room proposes, and picks the cached
  // dispatcher route. The initial value: setNetworkType() changes it. Default Unknown.
  Network network = Network::Unknown;
  // Free text in Auth, for the room's logs. Default "push-sdk-cpp/0.1".
  std::string client_version = "push-sdk-cpp/0.1";
  // true: every QoS-1 message is acked as soon as on_message returns. false: the app calls
  // ack(id) when the message is safely handled (e.g. stored); unacked messages are sent
  // again after a reconnect. Default true.
  bool auto_ack = true;
  // Give up a connection attempt (name lookup and TCP connects, see `servers`) after this
  // long. Default 10 s; range 1 ms..10 min.
  std::chrono::milliseconds connect_timeout{10'000};
  // Give up waiting for AuthResult after this long. Default 10 s (the room's own auth
  // timeout); range 1 ms..10 min.
  std::chrono::milliseconds auth_timeout{10'000};
  // Reconnect backoff: `backoff_initial` doubling per failed attempt up to `backoff_max`,
  // each delay +-`backoff_jitter` (relative). Defaults 500 ms, 60 s, 0.2.
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{60'000};
  double backoff_jitter = 0.2;
  // A connection that stayed online at least this long resets the backoff when it drops.
  // Default 60 s.
  std::chrono::milliseconds backoff_reset_after{60'000};
  // Make-before-break on Reconnect: the old connection is closed this long after the new
  // one is authenticated (messages in flight on it still arrive). Default 500 ms.
  std::chrono::milliseconds switch_grace{500};
  // Bound on a graceful close (acks flushed, FIN, wait for the room's FIN). Default 1 s.
  std::chrono::milliseconds close_timeout{1'000};
  // The heartbeat interval is the room's (AuthResult.heartbeat_interval_s), kept within
  // [heartbeat_min_s, heartbeat_max_s] so a broken or hostile room can make the client
  // neither ping every second nor wait days to notice a dead connection: a proposal below the
  // minimum uses the minimum, above the maximum the maximum, and 0 (none) uses
  // default_heartbeat_s. Defaults 5 s, 3600 s and 60 s; each 1..3600 s, min <= default <= max.
  // (Rooms clamp their own proposals to 5..600 s by default; a room configured below
  // heartbeat_min_s would close this client for silence.)
  uint32_t heartbeat_min_s = 5;
  uint32_t heartbeat_max_s = 3600;
  uint32_t default_heartbeat_s = 60;
  // A draining room's Reconnect{delay_ms} is honoured up to this long; a longer delay (a
  // broken room asking to wait forever) waits this long instead. Default 5 min; range
  // 0..1 h (0: reconnect at once).
  std::chrono::milliseconds max_reconnect_delay{300'000};
  // Largest frame accepted from the room, and largest Upstream frame sent (the room's own
  // limit is 64 KiB by default). A bigger frame from the room is a protocol error: the
  // connection is dropped and re-established. Default 64 KiB; range 1 KiB..16 MiB.
  uint32_t max_frame_bytes = 64 * 1024;
  // The dispatcher (services/dispatcher): "http://host[:port][/prefix]", asked
  // GET <prefix>/v1/route?app=&user=&net=&region=&retry= (app and user read from the token,
  // unverified; net the current network type). Empty (default): no dispatcher, `servers` is
  // the list. Set: before a connection attempt the client takes the route of the current
  // network type from its cache, or asks the dispatcher; it tries the answer's tcp addresses
  // in order, keeps the answer per network type for its ttl_s (kept within 10 s..24 h), and
  // uses its heartbeat_s when a room proposes no interval. It asks again (retry=n, n counting
  // such refreshes since the client was last online, at most 100) after `route_failures`
  // connection attempts in a row failed on the route, and after setNetworkType() changed the
  // network (when that network has no fresh cached route). When the dispatcher cannot be
  // reached or gives no usable answer, `servers` is used (for 60 s, then the dispatcher is
  // asked again at the next attempt); `servers` may be empty then, and the client waits with
  // backoff and asks again. sdk/README.md "Routing".
  std::string dispatcher;
  // Sent to the dispatcher as `region`; empty: none (the dispatcher's default region).
  // At most 64 bytes of [A-Za-z0-9._-].
  std::string region;
  // Failed connection attempts in a row on one route before the dispatcher is asked again.
  // Default 3; 1..100.
  uint32_t route_failures = 3;
  // Bound on one dispatcher request (resolve, connect, answer). Default 5 s; 10 ms..60 s.
  std::chrono::milliseconds route_timeout{5'000};
  // Message ids remembered for duplicate suppression. Default 4096; at least 1.
  size_t dedup_window = 4096;
  // How many of the newest remembered ids Auth carries (recent_message_ids). Default 64.
  size_t auth_recent_ids = 64;
  // Upstream messages queued (offline) or in flight (waiting for UpstreamAck) at most;
  // sendUpstream() beyond it fails with OVERLOADED. Default 256.
  size_t max_pending_upstream = 256;
  // Manual acks queued while offline at most (the oldest are dropped: those messages will
  // simply be sent again). Default 4096.
  size_t max_pending_acks = 4096;
};

// A long-lived connection to the push platform: connects to a room, authenticates, keeps the
// connection alive with heartbeats, reconnects with backoff, delivers pushes once and acks
// them, sends upstream data.
//
// Threading: the client runs its own event loop on its own thread (the "SDK thread"),
// started by connect(). Every public method is thread-safe: it hands the work to the SDK
// thread and returns without waiting (except close()). Callbacks run on the SDK thread, one
// at a time; they may call any method of the client, including close() (which then does
// not wait) and the destructor (see ~Client). Callbacks must not block for long (they hold
// up heartbeats) and must not throw (an exception is caught, logged and dropped).
class Client {
 public:
  struct Callbacks {
    // A new message (duplicates are not delivered again). With auto_ack, a QoS-1 message is
    // acked after this returns.
    std::function<void(const Message& message)> on_message;
    // Every state change. `detail` is "key=value" pairs for logs, e.g.
    // "room=room-1 server=127.0.0.1:7100 heartbeat=60" for Online, "delay_ms=512 attempt=1"
    // for Backoff, "server=127.0.0.1:7100" for Connecting and Authenticating,
    // "reason=<text>" for Kicked, "code=<name> message=<text>" for NeedsToken. Online is
    // reported again when a make-before-break reconnect moved to another room.
    std::function<void(State state, const std::string& detail)> on_state;
    // An Error frame from the room, or a failed connection (SDK codes). Informational: the
    // client reacts by itself (reconnects, or moves to NeedsToken).
    std::function<void(int code, const std::string& message)> on_error;
    // The outcome of sendUpstream(`seq`): code 0 accepted (the app's webhook answered 2xx) and
    // `reply`, the webhook's answer body (bytes; empty when it sent none); a
    // push.client.ErrorCode when the room, the coordinator or the app refused it
    // (ERROR_BAD_FRAME for a bad type, ERROR_UNKNOWN_APP when the app has no webhook for the
    // type, ERROR_UNAVAILABLE: try later); kErrorConnectionLost when the connection closed
    // before the answer (the room may or may not have got it). Exactly once per seq, unless
    // close() came first.
    std::function<void(uint64_t seq, int code, const std::string& message,
                       const std::string& reply)>
        on_upstream_ack;
    // The outcome of bind(): code 0 and the app when it is bound (again after every
    // reconnect, silently), or the refusal (the token is then forgotten).
    std::function<void(const std::string& app, int code, const std::string& message)> on_bind;
    // The outcome of subscribe() or unsubscribe() `seq`: code 0 or the room's refusal
    // (ERROR_NOT_BOUND, ERROR_BAD_TAG, ERROR_TOO_MANY_TAGS; a refused request changed nothing
    // and its tags are forgotten), and `tags`, every tag of `app` the connection holds now.
    // Requests made offline, or lost with a connection, are answered on the next one. The
    // automatic re-subscription after a reconnect reports seq 0, and only when refused.
    std::function<void(uint64_t seq, const std::string& app, int code, const std::string& message,
                       const std::vector<std::string>& tags)>
        on_subscribe;
  };

  // Validates the options (INVALID_ARGUMENT naming the field). No thread or socket yet.
  static Result<std::unique_ptr<Client>> create(ClientOptions options);

  // Closes (as close()) and frees. May be called from a callback on the SDK thread: the
  // client then finishes closing on its own after the callback returns.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sets the callbacks. Only before the first connect(): FAILED_PRECONDITION afterwards.
  Status setCallbacks(Callbacks callbacks);

  // Starts the SDK thread (first call) and connecting. Later calls: from Kicked,
  // NeedsToken or Disconnected connect again; from Backoff connect now (e.g. when the app
  // learns the network is back); otherwise no-op. CANCELLED after close().
  Status connect();

  // Acks a QoS-1 message (for auto_ack = false; harmless otherwise). Sent on the current
  // connection, batched with other acks of the same loop turn; queued while offline.
  Status ack(uint64_t message_id);

  // Queues `payload` for the app's servers (`app` empty: the authenticated app). `type` picks
  // the app's webhook for that type of data (empty: its default webhook); at most 64 bytes of
  // [A-Za-z0-9._-] (validUpstreamType). Returns the seq that on_upstream_ack will report, with
  // the webhook's reply. Sent at once when online, else when next online. INVALID_ARGUMENT
  // for a bad type or when the frame would exceed max_frame_bytes; OVERLOADED over
  // max_pending_upstream; CANCELLED after close(). Copies its arguments.
  Result<uint64_t> sendUpstream(std::string_view app, std::string_view payload,
                                std::string_view type = {});

  // The device's network type changed (call it from the OS's connectivity callback). Sent in
  // the next Auth; with a dispatcher, that network's cached route is used or the dispatcher
  // asked. Online: a new connection is opened and the old one closed once the new one is
  // authenticated (make before break: after a network change the old socket is usually dead,
  // and the heartbeat interval depends on the network). Backoff: connects now. Connecting or
  // authenticating: that attempt finishes first. The same type again: nothing. CANCELLED
  // after close().
  Status setNetworkType(Network network);

  // Replaces the token used by the next Auth (the current connection is not touched). In
  // NeedsToken, connects again at once. INVALID_ARGUMENT for an empty token.
  Status setToken(std::string token);

  // Adds another app of the same device and user to the connection (Bind). Remembered and
  // re-bound after every reconnect until unbind() or a refusal; result via on_bind. At most
  // 16 tokens are kept (more are refused through on_bind with ERROR_TOO_MANY_APPS).
  Status bind(std::string token);
  // Stops receiving `app`'s messages on this connection and forgets its bind token.
  Status unbind(std::string app);

  // Subscribes the connection to `tags` of `app` (the authenticated app or a bound one), so
  // that broadcasts to those tags reach it. The SDK remembers the tags per app and subscribes
  // again after every reconnect (and forgets an app's tags on unbind()). Returns the seq that
  // on_subscribe reports; sent at once when online, else when next online. INVALID_ARGUMENT
  // for an empty app, no tags, more than 4096, or a malformed tag name (validTag);
  // CANCELLED after close().
  Result<uint64_t> subscribe(std::string app, std::vector<std::string> tags);
  // Removes `tags` of `app` (and from what is re-subscribed). As subscribe().
  Result<uint64_t> unsubscribe(std::string app, std::vector<std::string> tags);

  // Stops everything: connections are closed (pending acks flushed first, at most
  // close_timeout), timers stop, the SDK thread ends. No callback runs after close()
  // returns; upstream still pending gets no answer. Blocks until the SDK thread has ended,
  // unless called on the SDK thread (from a callback): then it returns at once and the
  // thread ends after the callback. Idempotent; safe from any thread, concurrently.
  void close();

  // The highest broadcast sequence seen for `app` (Push.broadcast_seq of the broadcasts
  // received; a room's AuthResult/BindResult.broadcast_seq while the client has none yet): 0
  // when none. Sent in Auth and Bind on every connection so that a room with storage replays
  // the broadcasts missed meanwhile (sdk/PROTOCOL.md "Stored messages and replay"). Persist it
  // (e.g. when the app goes to the background) and give it back with setLastBroadcastSeq()
  // after a process restart. Thread-safe.
  uint64_t lastBroadcastSeq(const std::string& app) const;
  // Sets it (replaces: a lower value makes the next replay start earlier; the dedup window
  // drops what the client already had). Takes effect on the next Auth or Bind. Thread-safe;
  // INVALID_ARGUMENT for an empty app.
  Status setLastBroadcastSeq(const std::string& app, uint64_t seq);

  // The current state. Thread-safe.
  State state() const;

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace push::sdk
