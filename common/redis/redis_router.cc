#include "common/redis/redis_router.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "common/base/hash.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/redis/key_slot.h"

namespace push::redis {

namespace {

// Cluster mode's timer: deadlines of waiting commands, retry times, refreshes.
constexpr std::chrono::milliseconds kTick{10};
// A TRYAGAIN/CLUSTERDOWN retry waits at most this long.
constexpr int64_t kMaxRetryDelayMs = 500;

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" (the host may be empty: ":6381",
// when the node does not know its own address; it is then the host of the node that answered).
struct Redirect {
  bool ask = false;
  uint16_t slot = 0;
  std::string address;
};

std::optional<Redirect> parseRedirect(std::string_view message) {
  Redirect r;
  if (startsWith(message, "MOVED ")) {
    message.remove_prefix(6);
  } else if (startsWith(message, "ASK ")) {
    r.ask = true;
    message.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const size_t space = message.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  unsigned slot = 0;
  auto [end, ec] = std::from_chars(message.data(), message.data() + space, slot);
  if (ec != std::errc() || end != message.data() + space || slot >= kSlotCount) return std::nullopt;
  r.slot = static_cast<uint16_t>(slot);
  r.address = std::string(message.substr(space + 1));
  if (r.address.empty()) return std::nullopt;
  return r;
}

// "10.0.0.1:7000" -> "10.0.0.1"; "[::1]:7000" -> "[::1]".
std::string_view hostOf(std::string_view address) {
  const size_t colon = address.rfind(':');
  return colon == std::string_view::npos ? address : address.substr(0, colon);
}

std::string joinHostPort(std::string_view host, int64_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos && !startsWith(host, "[")) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

Status cancelled() {
  return Status(Code::CANCELLED, "the redis router was destroyed");
}

}  // namespace

// One command in Cluster mode, shared by the callbacks of its hops.
struct RedisRouter::Op {
  uint16_t slot = 0;
  std::vector<std::string> args;
  RedisClient::Done done;
  int64_t deadline_ms = 0;
  int64_t retry_at_ms = 0;  // TRYAGAIN/CLUSTERDOWN: not before
  int hops = 0;
};

struct RedisRouter::Fanout {
  std::vector<std::string> args;
  std::function<void(std::vector<Result<Reply>>)> done;
  int64_t deadline_ms = 0;
};

Result<std::unique_ptr<RedisRouter>> RedisRouter::create(net::EventLoop& loop, Options options) {
  if (options.addresses.empty()) return invalidArgument("redis router: no addresses");
  if (options.mode == Mode::Single && options.addresses.size() != 1) {
    return invalidArgument("redis router: Single mode takes exactly one address, got " +
                           std::to_string(options.addresses.size()));
  }
  if (options.max_redirects < 0 || options.slot_refresh_interval.count() <= 0) {
    return invalidArgument("redis router: need max_redirects >= 0 and slot_refresh_interval > 0");
  }
  std::unique_ptr<RedisRouter> router(new RedisRouter(loop, std::move(options)));
  const Options& o = router->options_;
  for (const std::string& address : o.addresses) {
    if (router->by_address_.count(address)) {
      if (o.mode == Mode::Shards) {
        return invalidArgument("redis router: shard " + address + " is listed twice");
      }
      continue;  // a repeated seed is harmless
    }
    ASSIGN_OR_RETURN(uint32_t index, router->nodeIndex(address));
    if (o.mode == Mode::Cluster) router->seeds_.push_back(index);
  }
  if (o.mode == Mode::Shards) {
    auto& ring = router->ring_;
    const auto& addresses = router->addresses_;
    ring.reserve(addresses.size() * kVirtualNodes);
    std::string name;
    for (uint32_t node = 0; node < addresses.size(); ++node) {
      for (int v = 0; v < kVirtualNodes; ++v) {
        name = addresses[node];
        name += '#';
        name += std::to_string(v);
        ring.push_back(Point{hash64(name), node});
      }
    }
    // Ties break by address, so the owner of a key does not depend on the list's order.
    std::sort(ring.begin(), ring.end(), [&addresses](const Point& a, const Point& b) {
      if (a.position != b.position) return a.position < b.position;
      return addresses[a.node] < addresses[b.node];
    });
  }
  if (o.mode == Mode::Cluster) {
    RedisRouter* self = router.get();
    router->timer_ = net::PeriodicTimer::create(loop, [self] { self->onTick(); });
    router->timer_->start(kTick);
  }
  return router;
}

RedisRouter::RedisRouter(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)) {}

RedisRouter::~RedisRouter() {
  liveness_.kill();
  timer_.reset();
  std::deque<std::shared_ptr<Op>> waiting;
  waiting.swap(waiting_);
  std::deque<Fanout> fanouts;
  fanouts.swap(fanouts_);
  for (auto& op : waiting)
    finish(*op, cancelled());
  for (Fanout& f : fanouts) {
    std::vector<Result<Reply>> out;
    out.emplace_back(cancelled());
    f.done(std::move(out));
  }
  // Each client completes what it holds CANCELLED; our callbacks see the dead token and pass
  // that on to the callers' `done`.
  nodes_.clear();
}

Result<uint32_t> RedisRouter::nodeIndex(const std::string& address) {
  auto it = by_address_.find(address);
  if (it != by_address_.end()) return it->second;
  ASSIGN_OR_RETURN(auto client, RedisClient::create(loop_, address, options_.client));
  const auto index = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back(std::move(client));
  addresses_.push_back(address);
  by_address_.emplace(address, index);
  return index;
}

uint32_t RedisRouter::shardOf(std::string_view key) const {
  const uint64_t position = hash64(hashTag(key));
  auto it = std::lower_bound(ring_.begin(), ring_.end(), position,
                             [](const Point& p, uint64_t pos) { return p.position < pos; });
  if (it == ring_.end()) it = ring_.begin();
  return it->node;
}

void RedisRouter::command(std::string_view key, std::vector<std::string> args,
                          RedisClient::Done done) {
  loop_.assertInLoopThread();
  switch (options_.mode) {
    case Mode::Single:
      return nodes_[0]->command(std::move(args), std::move(done));
    case Mode::Shards:
      return nodes_[shardOf(key)]->command(std::move(args), std::move(done));
    case Mode::Cluster:
      break;
  }
  if (args.empty()) return done(invalidArgument("redis command without arguments"));
  auto op = std::make_shared<Op>();
  op->slot = keySlot(key);
  op->args = std::move(args);
  op->done = std::move(done);
  op->deadline_ms = loop_.nowMs() + options_.client.timeout.count();
  if (!used_) {
    used_ = true;
    next_periodic_ms_ = loop_.nowMs() + options_.slot_refresh_interval.count();
  }
  dispatch(op);
}

void RedisRouter::dispatch(const std::shared_ptr<Op>& op) {
  const int32_t node = slots_.empty() ? -1 : slots_[op->slot];
  if (node < 0) {
    waiting_.push_back(op);
    requestRefresh();
    return;
  }
  send(op, static_cast<uint32_t>(node), /*asking=*/false);
}

void RedisRouter::send(const std::shared_ptr<Op>& op, uint32_t node, bool asking) {
  RedisClient& client = *nodes_[node];
  // ASK: the target serves the slot's keys it has imported only to a connection that sent
  // ASKING just before. The client writes commands in call order on its one connection (or
  // queues both for the next one, in order), so the two stay back to back. ASKING's own
  // reply (OK) is of no interest: if it failed, the command is redirected again.
  if (asking) client.command({"ASKING"}, [](Result<Reply>) {});
  client.command(op->args, [this, alive = liveness_.token(), op, node](Result<Reply> r) {
    if (!alive.alive()) return finish(*op, std::move(r));
    onReply(op, node, std::move(r));
  });
}

void RedisRouter::onReply(const std::shared_ptr<Op>& op, uint32_t node, Result<Reply> result) {
  if (result.isOk()) return finish(*op, std::move(result));
  const Status& status = result.status();
  if (status.code() == Code::UNAVAILABLE) {
    // The node may be gone (failover, removed): reload the map for the next commands.
    requestRefresh();
    return finish(*op, std::move(result));
  }
  if (status.code() != Code::FAILED_PRECONDITION) return finish(*op, std::move(result));
  const std::string& message = status.message();
  std::optional<Redirect> redirect = parseRedirect(message);
  const bool clusterdown = startsWith(message, "CLUSTERDOWN");
  const bool retry = clusterdown || startsWith(message, "TRYAGAIN");
  if (!redirect && !retry) return finish(*op, std::move(result));
  if (redirect) {
    ++(redirect->ask ? stats_.ask : stats_.moved);
  } else {
    ++stats_.tryagain;
  }
  if (++op->hops > options_.max_redirects) {
    return finish(*op, Status(Code::UNAVAILABLE, "redis cluster: more than " +
                                                     std::to_string(options_.max_redirects) +
                                                     " redirects (last: " + message + ")"));
  }
  const int64_t now = loop_.nowMs();
  if (now >= op->deadline_ms) {
    return finish(*op, Status(Code::TIMEOUT,
                              "redis cluster: deadline passed while redirected (" + message + ")"));
  }
  if (retry) {
    if (clusterdown) requestRefresh();
    op->retry_at_ms =
        now + std::min<int64_t>(kMaxRetryDelayMs, kRetryDelay.count() << (op->hops - 1));
    waiting_.push_back(op);
    return;
  }
  std::string address = std::move(redirect->address);
  if (address.front() == ':') address = std::string(hostOf(addresses_[node])) + address;
  Result<uint32_t> target = nodeIndex(address);
  if (!target.isOk()) {
    return finish(*op, target.status().withContext("redis cluster redirect (" + message + ")"));
  }
  if (!redirect->ask) {
    // The slot has moved for good: send its next commands there at once, and reload the whole
    // map (a migration usually moves more than one slot).
    if (!slots_.empty()) slots_[redirect->slot] = static_cast<int32_t>(*target);
    requestRefresh();
  }
  send(op, *target, redirect->ask);
}

void RedisRouter::finish(Op& op, Result<Reply> result) {
  RedisClient::Done done = std::move(op.done);
  done(std::move(result));
}

void RedisRouter::requestRefresh() {
  if (refreshing_ || loop_.nowMs() - last_refresh_ms_ < kMinRefreshGap.count()) {
    refresh_wanted_ = true;  // onTick starts it
    return;
  }
  startRefresh();
}

void RedisRouter::startRefresh() {
  refreshing_ = true;
  refresh_wanted_ = false;
  last_refresh_ms_ = loop_.nowMs();
  // Ask the masters we know, then the seeds, then any other node; connected ones first, since
  // a node that is down answers only after its client's reconnect backoff.
  std::vector<uint32_t> order;
  std::vector<bool> seen(nodes_.size(), false);
  auto add = [&](uint32_t node) {
    if (!seen[node]) {
      seen[node] = true;
      order.push_back(node);
    }
  };
  for (uint32_t node : masters_)
    add(node);
  for (uint32_t node : seeds_)
    add(node);
  for (uint32_t node = 0; node < nodes_.size(); ++node)
    add(node);
  std::stable_partition(order.begin(), order.end(),
                        [this](uint32_t node) { return nodes_[node]->connected(); });
  refresh_candidates_ = std::move(order);
  refreshFrom(0);
}

void RedisRouter::refreshFrom(size_t candidate) {
  if (candidate >= refresh_candidates_.size()) return onRefreshDone(false);
  const uint32_t node = refresh_candidates_[candidate];
  nodes_[node]->command(
      {"CLUSTER", "SLOTS"}, [this, alive = liveness_.token(), candidate, node](Result<Reply> r) {
        if (!alive.alive()) return;
        if (r.isOk() && applySlots(*r, node)) return onRefreshDone(true);
        last_refresh_error_ =
            addresses_[node] + ": " +
            (r.isOk() ? std::string("CLUSTER SLOTS gave no slot map") : r.status().toString());
        refreshFrom(candidate + 1);
      });
}

bool RedisRouter::applySlots(const Reply& reply, uint32_t from) {
  // Each element: [first slot, last slot, [master ip, port, id, ...], [replica ...]...].
  if (!reply.isArray() || reply.elements.empty()) return false;
  std::vector<int32_t> slots(kSlotCount, -1);
  std::vector<std::pair<int64_t, uint32_t>> firsts;  // (first slot, master)
  for (const Reply& range : reply.elements) {
    if (!range.isArray() || range.elements.size() < 3) return false;
    const Reply& first = range.elements[0];
    const Reply& last = range.elements[1];
    const Reply& master = range.elements[2];
    if (!first.isInteger() || !last.isInteger() || first.integer < 0 ||
        last.integer >= kSlotCount || first.integer > last.integer || !master.isArray() ||
        master.elements.size() < 2 || !master.elements[0].isString() ||
        !master.elements[1].isInteger()) {
      return false;
    }
    std::string_view host = master.elements[0].str;
    // Empty or "?": the node does not know its own address; it is the one we asked.
    if (host.empty() || host == "?") host = hostOf(addresses_[from]);
    Result<uint32_t> node = nodeIndex(joinHostPort(host, master.elements[1].integer));
    if (!node.isOk()) {
      LOG_EVERY_SEC(Warn, Redis, 5, "redis cluster: slots {}-{}: {}", first.integer, last.integer,
                    node.status().toString());
      continue;
    }
    for (int64_t slot = first.integer; slot <= last.integer; ++slot)
      slots[static_cast<size_t>(slot)] = static_cast<int32_t>(*node);
    firsts.emplace_back(first.integer, *node);
  }
  if (firsts.empty()) return false;
  std::sort(firsts.begin(), firsts.end());
  std::vector<uint32_t> masters;
  for (const auto& [first, node] : firsts) {
    if (std::find(masters.begin(), masters.end(), node) == masters.end()) masters.push_back(node);
  }
  slots_ = std::move(slots);
  masters_ = std::move(masters);
  ++stats_.slot_refreshes;
  return true;
}

void RedisRouter::onRefreshDone(bool loaded) {
  refreshing_ = false;
  if (loaded) {
    next_periodic_ms_ = loop_.nowMs() + options_.slot_refresh_interval.count();
  } else {
    LOG_EVERY_SEC(Warn, Redis, 5, "redis cluster: no node gave a slot map (last: {})",
                  last_refresh_error_);
  }
  auto alive = liveness_.token();
  if (loaded && !masters_.empty()) {
    std::deque<Fanout> fanouts;
    fanouts.swap(fanouts_);
    while (!fanouts.empty()) {
      Fanout f = std::move(fanouts.front());
      fanouts.pop_front();
      if (!alive.alive()) {
        std::vector<Result<Reply>> out;
        out.emplace_back(cancelled());
        f.done(std::move(out));
        continue;
      }
      runFanout(std::move(f));
    }
    if (!alive.alive()) return;
  }
  flushWaiting();
}

void RedisRouter::flushWaiting() {
  if (waiting_.empty()) return;
  const int64_t now = loop_.nowMs();
  auto alive = liveness_.token();
  std::deque<std::shared_ptr<Op>> batch;
  batch.swap(waiting_);
  while (!batch.empty()) {
    std::shared_ptr<Op> op = std::move(batch.front());
    batch.pop_front();
    if (!alive.alive()) {
      finish(*op, cancelled());  // a `done` destroyed the router: the rest is cancelled too
      continue;
    }
    const int32_t node = slots_.empty() ? -1 : slots_[op->slot];
    if (op->deadline_ms <= now) {
      std::string why = node < 0 ? "redis cluster: no owner known for slot " +
                                       std::to_string(op->slot) + " within the deadline" +
                                       (last_refresh_error_.empty()
                                            ? std::string()
                                            : " (last refresh: " + last_refresh_error_ + ")")
                                 : "redis cluster: retry of slot " + std::to_string(op->slot) +
                                       " due past the deadline";
      finish(*op, Status(Code::TIMEOUT, std::move(why)));
      continue;
    }
    if (node < 0 || op->retry_at_ms > now) {
      waiting_.push_back(std::move(op));
      continue;
    }
    send(op, static_cast<uint32_t>(node), /*asking=*/false);
  }
}

void RedisRouter::onTick() {
  const int64_t now = loop_.nowMs();
  auto alive = liveness_.token();
  while (!fanouts_.empty() && fanouts_.front().deadline_ms <= now) {
    Fanout f = std::move(fanouts_.front());
    fanouts_.pop_front();
    std::vector<Result<Reply>> out;
    out.emplace_back(Status(Code::TIMEOUT, "redis cluster: no slot map within the deadline (" +
                                               last_refresh_error_ + ")"));
    f.done(std::move(out));
    if (!alive.alive()) return;
  }
  flushWaiting();
  if (!alive.alive()) return;
  if (refreshing_ || now - last_refresh_ms_ < kMinRefreshGap.count()) return;
  bool unknown = !fanouts_.empty();
  for (size_t i = 0; i < waiting_.size() && !unknown; ++i)
    unknown = slots_.empty() || slots_[waiting_[i]->slot] < 0;
  if (refresh_wanted_ || unknown || (used_ && now >= next_periodic_ms_)) startRefresh();
}

void RedisRouter::forEachPrimary(std::vector<std::string> args,
                                 std::function<void(std::vector<Result<Reply>>)> done) {
  loop_.assertInLoopThread();
  Fanout f{std::move(args), std::move(done), loop_.nowMs() + options_.client.timeout.count()};
  if (options_.mode == Mode::Cluster && masters_.empty()) {
    if (!used_) {
      used_ = true;
      next_periodic_ms_ = loop_.nowMs() + options_.slot_refresh_interval.count();
    }
    fanouts_.push_back(std::move(f));
    requestRefresh();
    return;
  }
  runFanout(std::move(f));
}

void RedisRouter::runFanout(Fanout fanout) {
  std::vector<uint32_t> targets;
  if (options_.mode == Mode::Cluster) {
    targets = masters_;
  } else {
    for (uint32_t node = 0; node < nodes_.size(); ++node)
      targets.push_back(node);
  }
  struct Gather {
    std::vector<std::optional<Result<Reply>>> results;
    size_t left = 0;
    std::function<void(std::vector<Result<Reply>>)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->results.resize(targets.size());
  gather->left = targets.size();
  gather->done = std::move(fanout.done);
  // The callbacks own `gather`, not the router: they complete even while it is destroyed.
  for (size_t i = 0; i < targets.size(); ++i) {
    nodes_[targets[i]]->command(fanout.args, [gather, i](Result<Reply> r) {
      gather->results[i].emplace(std::move(r));
      if (--gather->left > 0) return;
      std::vector<Result<Reply>> out;
      out.reserve(gather->results.size());
      for (auto& one : gather->results)
        out.push_back(std::move(*one));
      auto done = std::move(gather->done);
      done(std::move(out));
    });
  }
}

Status RedisRouter::setSlotForTest(uint16_t slot, const std::string& address) {
  if (options_.mode != Mode::Cluster || slots_.empty() || slot >= kSlotCount) {
    return Status(Code::FAILED_PRECONDITION, "no slot map");
  }
  ASSIGN_OR_RETURN(uint32_t node, nodeIndex(address));
  slots_[slot] = static_cast<int32_t>(node);
  return Status::ok();
}

std::vector<std::string> RedisRouter::primaries() const {
  if (options_.mode != Mode::Cluster) return addresses_;
  std::vector<std::string> out;
  out.reserve(masters_.size());
  for (uint32_t node : masters_)
    out.push_back(addresses_[node]);
  return out;
}

uint32_t RedisRouter::placementOf(std::string_view key) const {
  switch (options_.mode) {
    case Mode::Single:
      return 0;
    case Mode::Shards:
      return shardOf(key);
    case Mode::Cluster:
      break;
  }
  return keySlot(key);
}

std::string RedisRouter::addressOf(std::string_view key) const {
  switch (options_.mode) {
    case Mode::Single:
      return addresses_[0];
    case Mode::Shards:
      return addresses_[shardOf(key)];
    case Mode::Cluster:
      break;
  }
  if (slots_.empty()) return "";
  const int32_t node = slots_[keySlot(key)];
  return node < 0 ? "" : addresses_[static_cast<size_t>(node)];
}

}  // namespace push::redis
