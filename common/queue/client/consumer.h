#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/net/owning_ptrs.h"
#include "common/queue/client/nsq_connection.h"

namespace push::net {
class EventLoop;
class HostResolver;
}  // namespace push::net
namespace push::http {
class HttpClient;
}

namespace push::queue {

class Consumer;

// One message handed to a Consumer's handler. Movable, not copyable: keep it (move it into a
// continuation) to answer later. Answer with finish() or requeue(); touch() as often as needed
// before that. Answers go to the connection the message came on; when that connection is gone
// they do nothing (return false) and the daemon redelivers the message after msg_timeout.
// Dropped unanswered: finished when Options::auto_finish, else left to time out on the daemon
// (redelivered with attempts + 1). Loop-thread only; safe to use after the consumer is gone
// (does nothing).
class Message {
 public:
  Message(Message&& other) noexcept;
  Message& operator=(Message&& other) noexcept;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message();

  const std::string& id() const { return id_; }  // 16 bytes
  const std::string& body() const { return body_; }
  // Deliveries so far, this one included (1 on the first).
  uint16_t attempts() const { return attempts_; }
  int64_t timestampNs() const { return timestamp_ns_; }

  // FIN. True when sent. A second answer is ignored (false).
  bool finish();
  // REQ: the daemon redelivers it after `delay` (negative: Options::requeue_delay). With
  // `backoff`, the consumer backs off (see Consumer) as for a failure.
  bool requeue(std::chrono::milliseconds delay = std::chrono::milliseconds(-1),
               bool backoff = true);
  // TOUCH: restarts the daemon's msg_timeout for it. False once answered or when the
  // connection is gone.
  bool touch();
  bool answered() const { return answered_; }

 private:
  friend class Consumer;
  Message(Consumer* consumer, Liveness::Token alive)
      : consumer_(consumer), alive_(std::move(alive)) {}
  void release();  // the unanswered end (destructor, move-assign)

  Consumer* consumer_ = nullptr;
  Liveness::Token alive_;
  uint64_t conn_serial_ = 0;
  std::string id_;
  std::string body_;
  uint16_t attempts_ = 0;
  int64_t timestamp_ns_ = 0;
  bool answered_ = true;  // a moved-from or empty message owes nothing
};

// Subscribes to topic/channel on every daemon it knows and hands each message to a handler.
//
//   queue::Consumer::Options o;
//   o.topic = "events"; o.channel = "center";
//   o.nsqd_tcp_addresses = {"127.0.0.1:4150"};           // and/or
//   o.lookupd_http_addresses = {"127.0.0.1:4161"};       // GET /lookup?topic= every interval
//   o.max_in_flight = 100;
//   ASSIGN_OR_RETURN(auto consumer, queue::Consumer::create(loop, o, [](queue::Message m) {
//     process(m.body());                                   // auto_finish: FIN when dropped
//   }));
//   ...
//   consumer->stop([&] { /* every connection closed */ });
//
// Daemons: the static list plus whatever the lookupds list for the topic (v1.3.0's
// {"producers":[...]} and the older {"data":{"producers":[...]}} both accepted; a name in
// broadcast_address is resolved off the loop). Each is connected, IDENTIFYed, SUBscribed,
// and reconnected after it breaks with jittered exponential backoff (reconnect_min doubling up
// to reconnect_max; reset when a connection subscribes). A lookupd-found daemon that is no
// longer listed and not connected is forgotten after two lookup intervals.
//
// Flow control: RDY per subscribed connection = max(1, max_in_flight / connections), at most
// the daemon's max_rdy_count, re-sent to every connection whenever that number changes.
//
// Backoff (as go-nsq): a requeue with backoff raises the backoff level (a finish lowers it);
// while the level is above 0, RDY is 0 everywhere for backoff_base * 2^(level-1) (at most
// backoff_max), then RDY 1 on one connection in turn to probe; the level falling back to 0
// restores full RDY. Answers that arrive during the pause do not change the level.
//
// stop(done): sends CLS on every subscribed connection, waits for each CLOSE_WAIT and for the
// messages in flight on it to be answered (or dropped), then closes it; at stop_timeout the
// rest are closed anyway. `done` runs once, never inside stop(). Destroying the consumer
// closes everything at once (no done).
//
// Loop-thread only; the handler runs on the loop thread.
class Consumer final : private NsqConnection::Owner {
 public:
  struct Options {
    std::string topic;
    std::string channel;
    // "host:port" of nsqd TCP listeners (names allowed).
    std::vector<std::string> nsqd_tcp_addresses;
    // "host:port" or "http://host:port" of nsqlookupd HTTP listeners.
    std::vector<std::string> lookupd_http_addresses;
    // How often the lookupds are asked (and once at once). Default: 60 s.
    std::chrono::milliseconds lookup_interval{60'000};
    // Deadline of one lookup request. Default: 5 s.
    std::chrono::milliseconds lookup_timeout{5'000};
    // Messages in flight over all connections. Default: 1.
    uint32_t max_in_flight = 1;
    // FIN a message its handler dropped unanswered. Default: true.
    bool auto_finish = true;
    // Messages delivered more than this many times are finished without the handler (and
    // counted as discarded). 0: no limit. Default: 0.
    uint16_t max_attempts = 0;
    // Delay of requeue() without one. Default: 1 s.
    std::chrono::milliseconds requeue_delay{1'000};
    // Backoff after failures (see above). Default: 1 s doubling, at most 2 min.
    std::chrono::milliseconds backoff_base{1'000};
    std::chrono::milliseconds backoff_max{120'000};
    // Reconnect backoff per daemon. Default: 100 ms doubling, at most 10 s.
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{10'000};
    // How long stop() waits for CLOSE_WAIT and in-flight messages. Default: 10 s.
    std::chrono::milliseconds stop_timeout{10'000};
    NsqConnection::Options connection;
  };
  using Handler = std::function<void(Message message)>;

  struct Stats {
    uint64_t received = 0;
    uint64_t finished = 0;
    uint64_t requeued = 0;
    uint64_t touched = 0;
    uint64_t discarded = 0;    // over max_attempts
    uint64_t connections = 0;  // subscribed connections now
    uint64_t connects = 0;     // subscriptions made so far (reconnects included)
    uint64_t lookups = 0;      // lookup answers parsed
  };

  // Starts connecting (on later turns). INVALID_ARGUMENT for bad names, no address, bad options.
  static Result<std::unique_ptr<Consumer>> create(net::EventLoop& loop, Options options,
                                                  Handler handler);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  void stop(std::function<void()> done);

  const Stats& stats() const { return stats_; }
  // Messages handed out and not answered or dropped yet.
  uint64_t inFlight() const;
  // The backoff level (0: not backing off).
  uint32_t backoffLevel() const { return backoff_level_; }
  const Options& options() const { return options_; }

 private:
  friend class Message;
  struct Peer;
  enum class BackoffState { Normal, Paused, Probing };

  Consumer(net::EventLoop& loop, Options options, Handler handler);
  void begin();

  Peer& addPeer(const std::string& key, bool from_lookupd);
  void connectPeer(Peer& peer);
  void startConnection(Peer& peer, const net::InetAddress& addr);
  void peerDown(Peer& peer);
  Peer* peerOf(uint64_t serial);
  Peer* peerOf(NsqConnection& conn);
  void onTick();
  void lookup();
  void onLookupAnswer(const std::string& url, const Status& status, int code,
                      const std::string& body);
  void updateRdy();
  void sendRdy(Peer& peer, uint32_t count);
  void maybeClosePeer(Peer& peer);
  void maybeFinishStop();

  // From Message.
  bool answer(uint64_t serial, const std::string& id, const std::string& line, bool is_final);
  void onAnswered(bool success, bool backoff);
  void onReleased(uint64_t serial);
  void backoffSignal(bool success);
  void onBackoffTimer();

  // NsqConnection::Owner
  void onReady(NsqConnection& conn) override;
  void onResponse(NsqConnection& conn, std::string_view data) override;
  void onError(NsqConnection& conn, std::string_view data) override;
  void onMessage(NsqConnection& conn, const wire::MessageView& message) override;
  void onClosed(NsqConnection& conn, const Status& why) override;

  net::EventLoop& loop_;
  const Options options_;
  Handler handler_;
  std::map<std::string, std::unique_ptr<Peer>> peers_;  // by "host:port"
  std::unique_ptr<http::HttpClient> http_;
  net::PeriodicTimerPtr tick_;
  net::PeriodicTimerPtr lookup_timer_;
  net::PeriodicTimerPtr backoff_timer_;
  BackoffState backoff_state_ = BackoffState::Normal;
  uint32_t backoff_level_ = 0;
  size_t probe_index_ = 0;
  bool stopping_ = false;
  int64_t stop_deadline_ms_ = 0;
  std::function<void()> stop_done_;
  uint64_t rng_ = 0x2545f4914f6cdd1dull;
  Stats stats_;
  Liveness liveness_;
};

}  // namespace push::queue
