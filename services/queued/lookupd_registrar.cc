#include "services/queued/lookupd_registrar.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <deque>
#include <string_view>

#include "common/base/json_writer.h"
#include "common/base/liveness.h"
#include "common/base/log.h"
#include "common/base/result.h"
#include "common/net/event_loop.h"
#include "common/net/host_resolver.h"
#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_connector.h"
#include "common/queue/wire.h"

namespace push::queued {

namespace {

constexpr std::string_view kMagicV1 = "  V1";
// lookupd's replies are a JSON document or a short text; anything larger is not lookupd.
constexpr uint32_t kMaxReplyBytes = 1u << 20;
// Commands sent and not answered yet; more means lookupd stopped answering.
constexpr size_t kMaxAwaiting = 100'000;

// Shared by every connection and never destroyed: a connection's close callback can run after
// its registrar is gone, and TcpConnection reads its Limits until then.
const net::TcpConnection::Limits& connLimits() {
  static const net::TcpConnection::Limits limits = [] {
    net::TcpConnection::Limits l;
    l.high_watermark = 256u << 10;  // above this, commands wait in Peer::backlog
    l.low_watermark = 64u << 10;
    // Never reached in practice: at most high_watermark plus one batch of commands is queued.
    l.hard_limit = 16u << 20;
    l.max_input = kMaxReplyBytes + 4;
    return l;
  }();
  return limits;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "REGISTER t\n" / "REGISTER t c\n" (verb UNREGISTER likewise).
std::string commandLine(std::string_view verb, const std::string& topic,
                        const std::string& channel) {
  std::string line;
  line.reserve(verb.size() + topic.size() + channel.size() + 3);
  line.append(verb).append(" ").append(topic);
  if (!channel.empty()) line.append(" ").append(channel);
  line.push_back('\n');
  return line;
}

std::string_view withoutNewline(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  return line;
}

}  // namespace

// One lookupd address and its connection, if any. States:
//   Idle        waiting for retry_timer (or an address that does not parse: never leaves it)
//   Resolving   resolver != nullptr
//   Connecting  connector != nullptr
//   Identifying conn != nullptr, IDENTIFY sent, not answered
//   Connected   conn != nullptr, IDENTIFY answered, resync sent
struct LookupdRegistrar::Peer {
  enum class State { Idle, Resolving, Connecting, Identifying, Connected };
  struct Awaiting {
    int64_t sent_ms;
    std::string command;  // for the log line of an E_ reply
  };

  Peer(LookupdRegistrar& owner, std::string address) : owner(owner), address(std::move(address)) {}
  ~Peer() { shutdown(); }

  void parseAddress();
  void attempt();
  void connectTo(const net::InetAddress& target);
  void onConnected(net::TcpConnection* c);
  void onAttemptFailed(const Status& why);
  void scheduleRetry(bool reset_backoff);
  void sendCommand(std::string line);
  bool sendNow(const std::string& line);
  void drainBacklog();
  void drop(std::string_view why);
  size_t onData(const char* data, size_t len);
  void onReply(std::string_view reply);
  void onClosed(net::TcpConnection::CloseReason reason);
  void shutdown();
  // A connection that is not closing.
  bool live() const { return conn && !conn->closing(); }

  LookupdRegistrar& owner;
  const std::string address;
  bool valid = false;
  bool numeric = false;
  net::InetAddress numeric_addr;  // when numeric
  std::string host;               // when a name
  uint16_t port = 0;

  State state = State::Idle;
  net::HostResolver* resolver = nullptr;   // valid until its done runs
  net::TcpConnector* connector = nullptr;  // valid until its done runs
  net::TcpConnection* conn = nullptr;      // valid until ConnHandler::onClosed
  net::PeriodicTimerPtr retry_timer;
  uint32_t backoff_ms = 0;
  size_t addr_index = 0;     // which resolved address to try (moves on after a failure)
  bool down_logged = false;  // unreachable, and said so since the last success
  int64_t identified_ms = 0;
  std::deque<Awaiting> awaiting;
  std::deque<std::string> backlog;  // commands held back while the socket is full
  size_t backlog_bytes = 0;
  bool paused = false;  // between onHighWatermark and onLowWatermark
  Liveness liveness;
};

// The one Handler of every registrar's connections (they reach their Peer through context();
// null once the Peer is gone): it must outlive connections whose registrar was destroyed.
class LookupdRegistrar::ConnHandler final : public net::TcpConnection::Handler {
 public:
  static ConnHandler& instance() {
    static ConnHandler handler;
    return handler;
  }
  static Peer* peerOf(const net::TcpConnection& conn) { return static_cast<Peer*>(conn.context()); }
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override {
    Peer* peer = peerOf(conn);
    return peer ? peer->onData(data, len) : len;
  }
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override {
    if (Peer* peer = peerOf(conn)) peer->onClosed(reason);
  }
  void onHighWatermark(net::TcpConnection& conn) override {
    if (Peer* peer = peerOf(conn)) peer->paused = true;
  }
  void onLowWatermark(net::TcpConnection& conn) override {
    if (Peer* peer = peerOf(conn)) {
      peer->paused = false;
      peer->drainBacklog();
    }
  }
};

// ---- Peer ----

void LookupdRegistrar::Peer::parseAddress() {
  if (auto parsed = net::InetAddress::parse(address); parsed.isOk()) {
    numeric = true;
    numeric_addr = *parsed;
    valid = numeric_addr.port() != 0;
    return;
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return;
  host = address.substr(0, colon);
  if (host.find(':') != std::string::npos || host.front() == '[') return;  // bad IPv6 form
  const std::string_view digits = std::string_view(address).substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value == 0 || value > 65535)
    return;
  port = static_cast<uint16_t>(value);
  valid = true;
}

void LookupdRegistrar::Peer::attempt() {
  if (numeric) {
    connectTo(numeric_addr);
    return;
  }
  state = State::Resolving;
  resolver = net::HostResolver::start(
      owner.loop_, host, port, owner.options_.resolve_timeout,
      [this, alive = liveness.token()](Result<std::vector<net::InetAddress>> result) {
        if (!alive.alive()) return;
        resolver = nullptr;
        if (!result.isOk()) {
          onAttemptFailed(result.status());
          return;
        }
        connectTo((*result)[addr_index % result->size()]);
      });
}

void LookupdRegistrar::Peer::connectTo(const net::InetAddress& target) {
  state = State::Connecting;
  connector = net::TcpConnector::start(
      owner.loop_, target, owner.options_.connect_timeout,
      [this, alive = liveness.token()](Result<net::TcpConnection*> result) {
        if (!alive.alive()) {
          if (result.isOk()) (*result)->close();  // never started: no handler to tell
          return;
        }
        connector = nullptr;
        if (!result.isOk()) {
          onAttemptFailed(result.status());
          return;
        }
        onConnected(*result);
      });
}

void LookupdRegistrar::Peer::onConnected(net::TcpConnection* c) {
  conn = c;
  state = State::Identifying;
  conn->setContext(this);
  conn->start(&ConnHandler::instance(), &connLimits());
  if (!sendNow(owner.hello_)) return;  // closing: onClosed follows
  awaiting.push_back({owner.loop_.nowMs(), "IDENTIFY"});
}

void LookupdRegistrar::Peer::onAttemptFailed(const Status& why) {
  if (!down_logged) {
    LOG_WARN(Queue, "nsqlookupd {}: cannot connect: {} (retrying)", address, why.toString());
    down_logged = true;
  }
  ++addr_index;
  scheduleRetry(false);
}

void LookupdRegistrar::Peer::scheduleRetry(bool reset_backoff) {
  state = State::Idle;
  const auto min_ms = static_cast<uint32_t>(owner.options_.reconnect_min.count());
  const auto max_ms = static_cast<uint32_t>(owner.options_.reconnect_max.count());
  backoff_ms = reset_backoff || backoff_ms == 0 ? min_ms : std::min(max_ms, backoff_ms * 2);
  if (!retry_timer) {
    retry_timer = net::PeriodicTimer::create(owner.loop_, [this] {
      if (state == State::Idle) attempt();
    });
  }
  retry_timer->start(std::chrono::milliseconds(backoff_ms), false);
}

void LookupdRegistrar::Peer::sendCommand(std::string line) {
  if (!live()) return;
  if (paused || !backlog.empty()) {
    if (backlog_bytes + line.size() > owner.options_.max_pending_bytes) {
      drop("too far behind (output over max_pending_bytes)");
      return;
    }
    backlog_bytes += line.size();
    backlog.push_back(std::move(line));
    return;
  }
  if (!sendNow(line)) return;
  awaiting.push_back({owner.loop_.nowMs(), std::string(withoutNewline(line))});
  if (awaiting.size() > kMaxAwaiting) drop("too many commands unanswered");
}

bool LookupdRegistrar::Peer::sendNow(const std::string& line) {
  // false: the connection is closing (a send over the hard limit closes it); onClosed follows.
  return conn->send(line);
}

void LookupdRegistrar::Peer::drainBacklog() {
  while (live() && !paused && !backlog.empty()) {
    std::string line = std::move(backlog.front());
    backlog.pop_front();
    backlog_bytes -= line.size();
    if (!sendNow(line)) return;
    awaiting.push_back({owner.loop_.nowMs(), std::string(withoutNewline(line))});
  }
  if (awaiting.size() > kMaxAwaiting) drop("too many commands unanswered");
}

void LookupdRegistrar::Peer::drop(std::string_view why) {
  if (!live()) return;
  LOG_WARN(Queue, "nsqlookupd {}: dropping the connection: {}", address, why);
  conn->close();  // onClosed logs nothing more for a drop we logged
  down_logged = true;
}

size_t LookupdRegistrar::Peer::onData(const char* data, size_t len) {
  size_t used = 0;
  while (live() && len - used >= 4) {
    const uint32_t size = queue::wire::getU32(data + used);
    if (size > kMaxReplyBytes) {
      drop("reply of " + std::to_string(size) + " bytes: not nsqlookupd");
      return len;
    }
    if (len - used - 4 < size) break;
    const std::string_view reply(data + used + 4, size);
    used += 4 + size;
    onReply(reply);
  }
  return live() ? used : len;
}

void LookupdRegistrar::Peer::onReply(std::string_view reply) {
  if (awaiting.empty()) {
    drop("reply to no command");
    return;
  }
  const Awaiting cmd = std::move(awaiting.front());
  awaiting.pop_front();
  if (state == State::Identifying) {
    if (startsWith(reply, "E_")) {
      LOG_WARN(Queue, "nsqlookupd {}: IDENTIFY refused: {}", address, reply);
      down_logged = true;
      conn->close();
      return;
    }
    state = State::Connected;
    identified_ms = owner.loop_.nowMs();
    down_logged = false;
    LOG_INFO(Queue, "nsqlookupd {}: connected, registering", address);
    for (const auto& [topic, channel] : owner.snapshot_()) {
      sendCommand(commandLine("REGISTER", topic, channel));
      if (!live()) return;
    }
    return;
  }
  if (startsWith(reply, "E_")) {
    LOG_EVERY_SEC(Warn, Queue, 1, "nsqlookupd {}: {} failed: {}", address, cmd.command, reply);
  }
}

void LookupdRegistrar::Peer::onClosed(net::TcpConnection::CloseReason reason) {
  const bool was_connected = state == State::Connected;
  const bool healthy =
      was_connected && owner.loop_.nowMs() - identified_ms >= kHealthyAfter.count();
  conn = nullptr;
  awaiting.clear();
  backlog.clear();
  backlog_bytes = 0;
  paused = false;
  if (!down_logged) {
    LOG_WARN(Queue, "nsqlookupd {}: connection lost ({}), reconnecting", address,
             net::TcpConnection::reasonName(reason));
    down_logged = true;
  }
  scheduleRetry(healthy);
}

void LookupdRegistrar::Peer::shutdown() {
  liveness.kill();
  if (resolver) resolver->cancel();
  if (connector) connector->cancel();
  resolver = nullptr;
  connector = nullptr;
  if (conn) {
    conn->setContext(nullptr);  // its onClosed finds no Peer
    conn->close();
    conn = nullptr;
  }
  retry_timer.reset();
  state = State::Idle;
}

// ---- LookupdRegistrar ----

LookupdRegistrar::LookupdRegistrar(net::EventLoop& loop, Identity identity, Snapshot snapshot)
    : LookupdRegistrar(loop, std::move(identity), std::move(snapshot), Options{}) {}

LookupdRegistrar::LookupdRegistrar(net::EventLoop& loop, Identity identity, Snapshot snapshot,
                                   Options options)
    : loop_(loop),
      identity_(std::move(identity)),
      snapshot_(std::move(snapshot)),
      options_(options) {
  JsonWriter body;
  body.beginObject()
      .key("broadcast_address")
      .string(identity_.broadcast_address)
      .key("hostname")
      .string(identity_.hostname)
      .key("http_port")
      .int64(identity_.http_port)
      .key("tcp_port")
      .int64(identity_.tcp_port)
      .key("version")
      .string(identity_.version)
      .endObject();
  const std::string& json = body.str();
  hello_.reserve(kMagicV1.size() + 13 + json.size());
  hello_.append(kMagicV1).append("IDENTIFY\n");
  char size[4];
  queue::wire::putU32(size, static_cast<uint32_t>(json.size()));
  hello_.append(size, 4).append(json);

  ping_timer_ = net::PeriodicTimer::create(loop_, [this] { onPingTimer(); });
  ping_timer_->start(options_.ping_interval);
}

LookupdRegistrar::~LookupdRegistrar() {
  ping_timer_.reset();
  peers_.clear();  // each Peer closes what it has
}

void LookupdRegistrar::setAddresses(const std::vector<std::string>& addresses) {
  loop_.assertInLoopThread();
  std::vector<std::unique_ptr<Peer>> next;
  next.reserve(addresses.size());
  for (const std::string& address : addresses) {
    const bool seen =
        std::any_of(next.begin(), next.end(), [&](const auto& p) { return p->address == address; });
    if (seen) continue;
    auto old = std::find_if(peers_.begin(), peers_.end(),
                            [&](const auto& p) { return p && p->address == address; });
    if (old != peers_.end()) {
      next.push_back(std::move(*old));
      continue;
    }
    auto peer = std::make_unique<Peer>(*this, address);
    peer->parseAddress();
    if (!peer->valid) {
      LOG_ERROR(Queue, "nsqlookupd address '{}' is not host:port; not connecting to it", address);
    } else {
      LOG_INFO(Queue, "nsqlookupd {}: added", address);
      peer->attempt();
    }
    next.push_back(std::move(peer));
  }
  for (auto& removed : peers_) {
    if (removed) LOG_INFO(Queue, "nsqlookupd {}: removed", removed->address);
  }
  peers_ = std::move(next);  // the removed ones close here
}

std::vector<std::string> LookupdRegistrar::addresses() const {
  std::vector<std::string> out;
  out.reserve(peers_.size());
  for (const auto& peer : peers_)
    out.push_back(peer->address);
  return out;
}

void LookupdRegistrar::registered(const std::string& topic, const std::string& channel) {
  sendToAll(commandLine("REGISTER", topic, channel));
}

void LookupdRegistrar::unregistered(const std::string& topic, const std::string& channel) {
  sendToAll(commandLine("UNREGISTER", topic, channel));
}

size_t LookupdRegistrar::connectedCount() const {
  return static_cast<size_t>(std::count_if(peers_.begin(), peers_.end(), [](const auto& p) {
    return p->state == Peer::State::Connected && p->live();
  }));
}

void LookupdRegistrar::sendToAll(const std::string& line) {
  loop_.assertInLoopThread();
  for (auto& peer : peers_) {
    if (peer->state == Peer::State::Connected) peer->sendCommand(line);
  }
}

void LookupdRegistrar::onPingTimer() {
  const int64_t now = loop_.nowMs();
  for (auto& peer : peers_) {
    if (!peer->live()) continue;
    if (!peer->awaiting.empty() &&
        now - peer->awaiting.front().sent_ms >= options_.ping_interval.count()) {
      peer->drop("no reply to " + peer->awaiting.front().command + " for a whole ping interval");
      continue;
    }
    if (peer->state == Peer::State::Connected) peer->sendCommand("PING\n");
  }
}

}  // namespace push::queued
