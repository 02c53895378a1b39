#include "common/queue/client/consumer.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <charconv>

#include "common/base/json_reader.h"
#include "common/base/log.h"
#include "common/http/http_client.h"
#include "common/net/event_loop.h"
#include "common/net/host_resolver.h"
#include "common/net/periodic_timer.h"

namespace push::queue {

namespace {

constexpr std::chrono::milliseconds kTick{50};

// "host:port" / "[v6]:port" -> host, port. False when malformed.
bool splitHostPort(std::string_view s, std::string* host, uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = s.substr(0, colon);
  std::string_view p = s.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc() || end != p.data() + p.size() || value == 0 || value > 65535) return false;
  if (h.empty()) return false;
  *host = std::string(h);
  *port = static_cast<uint16_t>(value);
  return true;
}

std::string joinHostPort(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string urlEscape(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace

// ---- Message ----

Message::Message(Message&& other) noexcept
    : consumer_(other.consumer_),
      alive_(std::move(other.alive_)),
      conn_serial_(other.conn_serial_),
      id_(std::move(other.id_)),
      body_(std::move(other.body_)),
      attempts_(other.attempts_),
      timestamp_ns_(other.timestamp_ns_),
      answered_(other.answered_) {
  other.answered_ = true;
}

Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    release();
    consumer_ = other.consumer_;
    alive_ = std::move(other.alive_);
    conn_serial_ = other.conn_serial_;
    id_ = std::move(other.id_);
    body_ = std::move(other.body_);
    attempts_ = other.attempts_;
    timestamp_ns_ = other.timestamp_ns_;
    answered_ = other.answered_;
    other.answered_ = true;
  }
  return *this;
}

Message::~Message() {
  release();
}

void Message::release() {
  if (answered_) return;
  if (!alive_.alive()) {
    answered_ = true;
    return;
  }
  if (consumer_->options_.auto_finish) {
    finish();
    return;
  }
  answered_ = true;
  consumer_->onReleased(conn_serial_);
}

bool Message::finish() {
  if (answered_) return false;
  answered_ = true;
  if (!alive_.alive()) return false;
  const bool sent = consumer_->answer(conn_serial_, id_, "FIN " + id_, true);
  consumer_->onAnswered(true, false);
  return sent;
}

bool Message::requeue(std::chrono::milliseconds delay, bool backoff) {
  if (answered_) return false;
  answered_ = true;
  if (!alive_.alive()) return false;
  if (delay.count() < 0) delay = consumer_->options_.requeue_delay;
  const bool sent = consumer_->answer(conn_serial_, id_,
                                      "REQ " + id_ + " " + std::to_string(delay.count()), true);
  consumer_->onAnswered(false, backoff);
  return sent;
}

bool Message::touch() {
  if (answered_ || !alive_.alive()) return false;
  ++consumer_->stats_.touched;
  return consumer_->answer(conn_serial_, id_, "TOUCH " + id_, false);
}

// ---- Consumer ----

struct Consumer::Peer {
  std::string key;  // "host:port"
  std::string host;
  uint16_t port = 0;
  bool is_static = false;
  int64_t last_listed_ms = 0;  // lookupd-found: when a lookup last listed it
  NsqConnectionPtr conn;
  net::HostResolver* resolver = nullptr;
  uint64_t attempt = 0;  // resolver callbacks of older attempts are ignored
  uint64_t serial = 0;   // conn->serial(), for messages
  bool subscribed = false;
  bool cls_sent = false;
  bool close_wait = false;
  uint32_t rdy = 0;
  uint32_t in_flight = 0;
  uint32_t backoff_ms = 0;
  int64_t retry_at_ms = 0;

  ~Peer() {
    if (resolver) resolver->cancel();
  }
};

Result<std::unique_ptr<Consumer>> Consumer::create(net::EventLoop& loop, Options options,
                                                   Handler handler) {
  if (!wire::isValidName(options.topic)) {
    return invalidArgument("consumer: bad topic name '" + options.topic + "'");
  }
  if (!wire::isValidName(options.channel)) {
    return invalidArgument("consumer: bad channel name '" + options.channel + "'");
  }
  if (options.nsqd_tcp_addresses.empty() && options.lookupd_http_addresses.empty()) {
    return invalidArgument("consumer: no nsqd_tcp_addresses and no lookupd_http_addresses");
  }
  for (const std::string& a : options.nsqd_tcp_addresses) {
    std::string host;
    uint16_t port = 0;
    if (!splitHostPort(a, &host, &port)) {
      return invalidArgument("consumer: bad nsqd address '" + a + "'");
    }
  }
  if (options.max_in_flight == 0 || options.lookup_interval.count() <= 0 ||
      options.backoff_base.count() <= 0 || options.backoff_max < options.backoff_base ||
      options.reconnect_min.count() <= 0 || options.reconnect_max < options.reconnect_min ||
      options.requeue_delay.count() < 0 || options.stop_timeout.count() <= 0) {
    return invalidArgument(
        "consumer options: need max_in_flight >= 1, lookup_interval > 0, stop_timeout > 0, "
        "0 < backoff_base <= backoff_max, 0 < reconnect_min <= reconnect_max");
  }
  if (options.connection.tls_v1 || options.connection.deflate || options.connection.snappy) {
    return invalidArgument("tls_v1/deflate/snappy need common/queue/codec (not wired in yet)");
  }
  if (!handler) return invalidArgument("consumer: no handler");
  std::unique_ptr<Consumer> consumer(new Consumer(loop, std::move(options), std::move(handler)));
  consumer->begin();
  return consumer;
}

Consumer::Consumer(net::EventLoop& loop, Options options, Handler handler)
    : loop_(loop), options_(std::move(options)), handler_(std::move(handler)) {}

Consumer::~Consumer() {
  liveness_.kill();
  tick_.reset();
  lookup_timer_.reset();
  backoff_timer_.reset();
  peers_.clear();  // closes every connection, cancels lookups of names
  http_.reset();   // pending lookups complete CANCELLED: their callbacks see the dead token
}

void Consumer::begin() {
  loop_.assertInLoopThread();
  tick_ = net::PeriodicTimer::create(loop_, [this] { onTick(); });
  tick_->start(kTick);
  backoff_timer_ = net::PeriodicTimer::create(loop_, [this] { onBackoffTimer(); });
  for (const std::string& a : options_.nsqd_tcp_addresses) {
    Peer& p = addPeer(a, false);
    p.is_static = true;
    connectPeer(p);
  }
  if (!options_.lookupd_http_addresses.empty()) {
    http::HttpClient::Options ho;
    ho.timeout = options_.lookup_timeout;
    ho.user_agent = options_.connection.user_agent;
    http_ = std::make_unique<http::HttpClient>(loop_, ho);
    lookup_timer_ = net::PeriodicTimer::create(loop_, [this] { lookup(); });
    lookup_timer_->start(options_.lookup_interval);
    lookup();
  }
}

uint64_t Consumer::inFlight() const {
  uint64_t n = 0;
  for (const auto& [key, p] : peers_)
    n += p->in_flight;
  return n;
}

Consumer::Peer& Consumer::addPeer(const std::string& key, bool from_lookupd) {
  auto it = peers_.find(key);
  if (it != peers_.end()) return *it->second;
  auto peer = std::make_unique<Peer>();
  peer->key = key;
  bool ok = splitHostPort(key, &peer->host, &peer->port);
  assert(ok);
  (void)ok;
  Peer& ref = *peer;
  peers_.emplace(key, std::move(peer));
  return ref;
}

void Consumer::connectPeer(Peer& peer) {
  Result<net::InetAddress> numeric = net::InetAddress::fromHostPort(peer.host, peer.port);
  if (numeric.isOk()) return startConnection(peer, *numeric);
  const uint64_t attempt = ++peer.attempt;
  peer.resolver =
      net::HostResolver::start(loop_, peer.host, peer.port, options_.connection.connect_timeout,
                               [this, alive = liveness_.token(), key = peer.key,
                                attempt](Result<std::vector<net::InetAddress>> addrs) {
                                 if (!alive.alive()) return;
                                 auto it = peers_.find(key);
                                 if (it == peers_.end() || it->second->attempt != attempt) return;
                                 Peer& p = *it->second;
                                 p.resolver = nullptr;
                                 if (stopping_) return;
                                 if (!addrs.isOk()) {
                                   LOG_EVERY_SEC(Warn, Queue, 1, "consumer: resolving {}: {}", key,
                                                 addrs.status().toString());
                                   return peerDown(p);
                                 }
                                 startConnection(p, addrs->front());
                               });
}

void Consumer::startConnection(Peer& peer, const net::InetAddress& addr) {
  Result<NsqConnectionPtr> conn = NsqConnection::start(loop_, addr, options_.connection, this);
  if (!conn.isOk()) {
    LOG_EVERY_SEC(Error, Queue, 1, "consumer: {}: {}", peer.key, conn.status().toString());
    return peerDown(peer);
  }
  peer.conn = std::move(conn).value();
  peer.serial = peer.conn->serial();
}

Consumer::Peer* Consumer::peerOf(uint64_t serial) {
  for (auto& [key, p] : peers_) {
    if (p->conn && p->serial == serial) return p.get();
  }
  return nullptr;
}

Consumer::Peer* Consumer::peerOf(NsqConnection& conn) {
  return peerOf(conn.serial());
}

void Consumer::peerDown(Peer& peer) {
  const bool was_subscribed = peer.subscribed;
  peer.conn.reset();
  peer.serial = 0;
  peer.subscribed = peer.cls_sent = peer.close_wait = false;
  peer.rdy = 0;
  peer.in_flight = 0;  // their answers find no connection; the daemon redelivers them
  if (was_subscribed) --stats_.connections;
  const uint32_t min_ms = static_cast<uint32_t>(options_.reconnect_min.count());
  const uint32_t max_ms = static_cast<uint32_t>(options_.reconnect_max.count());
  peer.backoff_ms = peer.backoff_ms == 0 ? min_ms : std::min(max_ms, peer.backoff_ms * 2);
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const int64_t jitter = static_cast<int64_t>(rng_ % (peer.backoff_ms / 2 + 1)) -
                         static_cast<int64_t>(peer.backoff_ms / 4);
  peer.retry_at_ms = loop_.nowMs() + peer.backoff_ms + jitter;
  if (was_subscribed) updateRdy();  // the others get this one's share
}

void Consumer::onTick() {
  const int64_t now = loop_.nowMs();
  if (stopping_) {
    if (now >= stop_deadline_ms_) {
      for (auto& [key, p] : peers_) {
        if (p->conn) {
          LOG_WARN(Queue, "consumer: stop_timeout passed; closing {} with {} in flight", key,
                   p->in_flight);
          p->conn.reset();
          p->in_flight = 0;
        }
      }
    }
    maybeFinishStop();
    return;
  }
  const int64_t forget_after = 2 * options_.lookup_interval.count();
  for (auto it = peers_.begin(); it != peers_.end();) {
    Peer& p = *it->second;
    if (!p.conn && !p.resolver && !p.is_static && now - p.last_listed_ms > forget_after) {
      LOG_INFO(Queue, "consumer: {} is no longer listed by lookupd; forgotten", p.key);
      it = peers_.erase(it);
      continue;
    }
    if (!p.conn && !p.resolver && now >= p.retry_at_ms) connectPeer(p);
    ++it;
  }
}

void Consumer::lookup() {
  if (stopping_ || !http_) return;
  for (const std::string& a : options_.lookupd_http_addresses) {
    std::string url = a.rfind("http://", 0) == 0 ? a : "http://" + a;
    while (!url.empty() && url.back() == '/')
      url.pop_back();
    url += "/lookup?topic=" + urlEscape(options_.topic);
    http_->get(url, [this, alive = liveness_.token(), url](Result<http::ClientResponse> r) {
      if (!alive.alive()) return;
      if (!r.isOk()) return onLookupAnswer(url, r.status(), 0, "");
      onLookupAnswer(url, Status::ok(), r->status, r->body);
    });
  }
}

void Consumer::onLookupAnswer(const std::string& url, const Status& status, int code,
                              const std::string& body) {
  if (stopping_) return;
  if (!status.isOk()) {
    LOG_EVERY_SEC(Warn, Queue, 1, "consumer: lookup {} failed: {}", url, status.toString());
    return;
  }
  if (code == 404) {  // TOPIC_NOT_FOUND: nobody has the topic yet
    LOG_DEBUG(Queue, "consumer: lookup {}: topic not found", url);
    ++stats_.lookups;
    return;
  }
  if (code != 200) {
    LOG_EVERY_SEC(Warn, Queue, 1, "consumer: lookup {} answered {}", url, code);
    return;
  }
  std::vector<std::string> found;
  JsonReader r(body);
  auto parseProducers = [&]() -> Status {
    RETURN_IF_ERROR(r.beginArray());
    while (r.nextElement()) {
      RETURN_IF_ERROR(r.beginObject());
      std::string key, address;
      uint64_t port = 0;
      while (r.nextKey(&key)) {
        if (key == "broadcast_address") {
          RETURN_IF_ERROR(r.readString(&address));
        } else if (key == "tcp_port") {
          RETURN_IF_ERROR(r.readUint(&port, 65535));
        } else {
          RETURN_IF_ERROR(r.skipValue());
        }
      }
      RETURN_IF_ERROR(r.status());
      if (!address.empty() && port != 0) {
        found.push_back(joinHostPort(address, static_cast<uint16_t>(port)));
      }
    }
    return r.status();
  };
  Status st = r.beginObject();
  std::string key;
  while (st.isOk() && r.nextKey(&key)) {
    if (key == "producers") {
      st = parseProducers();
    } else if (key == "data") {  // before nsq 1.0: {"status_code":200,"data":{...}}
      st = r.beginObject();
      std::string inner;
      while (st.isOk() && r.nextKey(&inner)) {
        st = inner == "producers" ? parseProducers() : r.skipValue();
      }
      if (st.isOk()) st = r.status();
    } else {
      st = r.skipValue();
    }
  }
  if (st.isOk()) st = r.status();
  if (st.isOk()) st = r.finish();
  if (!st.isOk()) {
    LOG_EVERY_SEC(Warn, Queue, 1, "consumer: lookup {}: bad answer: {}", url, st.toString());
    return;
  }
  ++stats_.lookups;
  const int64_t now = loop_.nowMs();
  for (const std::string& k : found) {
    std::string host;
    uint16_t port = 0;
    if (!splitHostPort(k, &host, &port)) continue;
    const bool is_new = peers_.find(k) == peers_.end();
    Peer& p = addPeer(k, true);
    p.last_listed_ms = now;
    if (is_new) {
      LOG_INFO(Queue, "consumer: lookupd lists {} for topic {}", k, options_.topic);
      connectPeer(p);
    }
  }
}

void Consumer::updateRdy() {
  if (stopping_) return;
  std::vector<Peer*> subs;
  for (auto& [key, p] : peers_) {
    if (p->conn && p->subscribed && !p->cls_sent) subs.push_back(p.get());
  }
  if (subs.empty()) return;
  const uint32_t per =
      std::max<uint32_t>(1, options_.max_in_flight / static_cast<uint32_t>(subs.size()));
  for (size_t i = 0; i < subs.size(); ++i) {
    uint32_t count = std::min(per, subs[i]->conn->serverInfo().max_rdy_count);
    if (backoff_state_ == BackoffState::Paused) count = 0;
    if (backoff_state_ == BackoffState::Probing) count = i == probe_index_ % subs.size() ? 1 : 0;
    sendRdy(*subs[i], count);
  }
}

void Consumer::sendRdy(Peer& peer, uint32_t count) {
  if (peer.rdy == count) return;
  peer.rdy = count;
  peer.conn->send("RDY " + std::to_string(count));
}

// ---- answers from messages ----

bool Consumer::answer(uint64_t serial, const std::string& id, const std::string& line,
                      bool is_final) {
  Peer* peer = peerOf(serial);
  if (!peer || !peer->conn->ready()) return false;
  const bool sent = peer->conn->send(line);
  if (is_final) {
    if (peer->in_flight > 0) --peer->in_flight;
    maybeClosePeer(*peer);
  }
  return sent;
}

void Consumer::onAnswered(bool success, bool backoff) {
  if (success) {
    ++stats_.finished;
    backoffSignal(true);
  } else {
    ++stats_.requeued;
    if (backoff) backoffSignal(false);
  }
}

void Consumer::onReleased(uint64_t serial) {
  Peer* peer = peerOf(serial);
  if (!peer) return;
  if (peer->in_flight > 0) --peer->in_flight;
  maybeClosePeer(*peer);
}

namespace {
int64_t backoffDurationMs(const Consumer::Options& o, uint32_t level) {
  int64_t d = o.backoff_base.count();
  for (uint32_t i = 1; i < level && d < o.backoff_max.count(); ++i)
    d *= 2;
  return std::min<int64_t>(d, o.backoff_max.count());
}
}  // namespace

void Consumer::backoffSignal(bool success) {
  if (stopping_ || backoff_state_ == BackoffState::Paused) return;  // go-nsq ignores these too
  if (success) {
    if (backoff_level_ == 0) return;
    --backoff_level_;
  } else if (backoffDurationMs(options_, backoff_level_) < options_.backoff_max.count() ||
             backoff_level_ == 0) {
    ++backoff_level_;
  }
  if (backoff_level_ == 0) {
    backoff_state_ = BackoffState::Normal;
    LOG_DEBUG(Queue, "consumer {}/{}: backoff over", options_.topic, options_.channel);
  } else {
    backoff_state_ = BackoffState::Paused;
    const int64_t ms = backoffDurationMs(options_, backoff_level_);
    LOG_DEBUG(Queue, "consumer {}/{}: backing off {} ms (level {})", options_.topic,
              options_.channel, ms, backoff_level_);
    backoff_timer_->start(std::chrono::milliseconds(ms), false);
  }
  updateRdy();
}

void Consumer::onBackoffTimer() {
  if (backoff_state_ != BackoffState::Paused) return;
  backoff_state_ = BackoffState::Probing;
  ++probe_index_;
  updateRdy();
}

// ---- stop ----

void Consumer::stop(std::function<void()> done) {
  loop_.assertInLoopThread();
  if (stopping_) {
    // A second stop(): chain the callbacks so both run.
    auto first = std::move(stop_done_);
    stop_done_ = [first = std::move(first), done = std::move(done)] {
      if (first) first();
      if (done) done();
    };
    return;
  }
  stopping_ = true;
  stop_done_ = std::move(done);
  stop_deadline_ms_ = loop_.nowMs() + options_.stop_timeout.count();
  lookup_timer_.reset();
  backoff_timer_.reset();
  for (auto& [key, p] : peers_) {
    if (p->resolver) {
      p->resolver->cancel();
      p->resolver = nullptr;
      ++p->attempt;
    }
    if (p->conn && p->subscribed) {
      p->conn->send("CLS");
      p->cls_sent = true;
    } else if (p->conn) {
      p->conn.reset();
    }
  }
}

void Consumer::maybeClosePeer(Peer& peer) {
  if (!stopping_ || !peer.close_wait || peer.in_flight > 0 || !peer.conn) return;
  peer.conn.reset();  // the last FINs are flushed first (NsqConnection::close)
  if (peer.subscribed) --stats_.connections;
  peer.subscribed = false;
}

void Consumer::maybeFinishStop() {
  if (!stopping_ || !stop_done_) return;
  for (auto& [key, p] : peers_) {
    if (p->conn) return;
  }
  auto done = std::move(stop_done_);
  stop_done_ = nullptr;
  done();
}

// ---- NsqConnection::Owner ----

void Consumer::onReady(NsqConnection& conn) {
  conn.send("SUB " + options_.topic + " " + options_.channel);
}

void Consumer::onResponse(NsqConnection& conn, std::string_view data) {
  Peer* peer = peerOf(conn);
  if (!peer) return;
  if (data == "OK" && !peer->subscribed) {
    peer->subscribed = true;
    peer->backoff_ms = 0;
    ++stats_.connections;
    ++stats_.connects;
    LOG_INFO(Queue, "consumer {}/{}: subscribed on {}", options_.topic, options_.channel,
             peer->key);
    updateRdy();
    return;
  }
  if (data == "CLOSE_WAIT") {
    peer->close_wait = true;
    maybeClosePeer(*peer);
    return;
  }
  LOG_EVERY_SEC(Warn, Queue, 1, "consumer: unexpected answer from {}: {}", peer->key,
                std::string(data.substr(0, 128)));
}

void Consumer::onError(NsqConnection& conn, std::string_view data) {
  Peer* peer = peerOf(conn);
  LOG_EVERY_SEC(Warn, Queue, 1, "consumer {}/{}: {} answered {}", options_.topic, options_.channel,
                peer ? peer->key : conn.address().toString(), std::string(data.substr(0, 256)));
}

void Consumer::onMessage(NsqConnection& conn, const wire::MessageView& view) {
  Peer* peer = peerOf(conn);
  if (!peer) return;
  ++stats_.received;
  if (options_.max_attempts != 0 && view.attempts > options_.max_attempts) {
    ++stats_.discarded;
    LOG_EVERY_SEC(Warn, Queue, 1,
                  "consumer {}/{}: message {} delivered {} times (max_attempts {}); finished "
                  "without handling",
                  options_.topic, options_.channel, std::string(view.id), view.attempts,
                  options_.max_attempts);
    conn.send("FIN " + std::string(view.id));
    return;
  }
  ++peer->in_flight;
  Message m(this, liveness_.token());
  m.conn_serial_ = peer->serial;
  m.id_ = std::string(view.id);
  m.body_ = std::string(view.body);
  m.attempts_ = view.attempts;
  m.timestamp_ns_ = view.timestamp_ns;
  m.answered_ = false;
  handler_(std::move(m));
}

void Consumer::onClosed(NsqConnection& conn, const Status& why) {
  Peer* peer = peerOf(conn);
  if (!peer) return;
  if (!stopping_) {
    LOG_WARN(Queue, "consumer {}/{}: connection to {} ended: {}", options_.topic, options_.channel,
             peer->key, why.toString());
  }
  peerDown(*peer);
}

}  // namespace push::queue
