#include "services/room/broadcast_pacer.h"

#include <uv.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/net/event_loop.h"
#include "common/net/frame_codec.h"
#include "common/net/periodic_timer.h"
#include "services/room/client_conn.h"
#include "services/room/client_protocol.h"
#include "services/room/connection_table.h"
#include "services/room/room_metrics.h"
#include "services/room/tag_index.h"

namespace push::room {

namespace {

int64_t nowUs() {
  return static_cast<int64_t>(uv_hrtime() / 1000);
}

// The bucket holds at most this much time's worth of tokens: a pass that waited does not
// burst past 10 ms of its rate.
constexpr double kBurstSeconds = 0.010;

// The work units of a connection written to in a slice, whatever the frames: its write()
// at the end of the loop turn is most of the cost (1-3 us to a NIC, ~9 us on loopback where
// it also runs the reader's side of TCP), about 64 visits of a slot. Counting a write as one
// unit made a slice of one broadcast 8192 writes (~70 ms of CPU): on a saturated machine
// with 63 room workers the loop then went seconds without running its timers, and the
// registers dropped the rooms for missed heartbeats (1M clients, one broadcast).
constexpr size_t kWriteWork = 64;

}  // namespace

BroadcastPacer::BroadcastPacer(net::EventLoop& loop, ConnectionTable& table, const TagIndex& tags,
                               ClientProtocol& protocol, Options options, OnDone on_done)
    : loop_(loop),
      table_(table),
      tags_(tags),
      protocol_(protocol),
      options_(options),
      on_done_(std::move(on_done)) {
  timer_ = net::PeriodicTimer::create(loop_, [this] {
    scheduled_ = false;
    runSlice();
  });
  tokens_ = options_.rate_per_s * kBurstSeconds;
  refilled_us_ = nowUs();
}

BroadcastPacer::~BroadcastPacer() = default;

void BroadcastPacer::enqueue(uint64_t token, uint16_t app, std::string tag, std::string frame) {
  waiting_.push_back(Item{token, app, std::move(tag), std::move(frame), 0});
  schedule();
}

void BroadcastPacer::clear() {
  waiting_.clear();
  pass_.clear();
  cursor_ = 0;
  if (timer_) timer_->stop();
  scheduled_ = false;
}

void BroadcastPacer::schedule() {
  if (scheduled_ || pending() == 0) return;
  scheduled_ = true;
  // Without tokens, wait until a slice's worth (or 1 ms) has accrued; else the next turn.
  int64_t wait_ms = 0;
  if (tokens_ < 1) {
    const double need = std::min<double>(options_.slice, options_.rate_per_s * kBurstSeconds);
    wait_ms = std::max<int64_t>(1, static_cast<int64_t>(need * 1000 / options_.rate_per_s));
  }
  if (wait_ms == 0) {
    // The next turn, after its I/O poll, which does not wait: a 0 ms timer is a millisecond
    // from the turn's cached time (PeriodicTimer), and a slice takes about that long, so the
    // loop would sleep up to a millisecond between slices for nothing. A post wakes the poll.
    loop_.post([this, alive = std::weak_ptr<bool>(alive_)] {
      if (alive.expired()) return;  // the pacer is gone
      scheduled_ = false;
      runSlice();
    });
  } else {
    timer_->start(std::chrono::milliseconds(wait_ms), false);
  }
}

void BroadcastPacer::refill() {
  const int64_t now = nowUs();
  const double cap = options_.rate_per_s * kBurstSeconds;
  tokens_ = std::min(cap, tokens_ + (now - refilled_us_) * 1e-6 * options_.rate_per_s);
  refilled_us_ = now;
}

bool BroadcastPacer::wants(const Item& item, const ClientConn& c) const {
  if (!c.hasApp(item.app)) return false;
  return item.tag.empty() || tags_.contains(ConnectionTable::idOf(c), item.app, item.tag);
}

void BroadcastPacer::runSlice() {
  if (pass_.empty()) {
    size_t bytes = 0;
    while (!waiting_.empty() && pass_.size() < options_.max_batch &&
           (pass_.empty() || bytes + waiting_.front().frame.size() <= options_.max_pass_bytes)) {
      bytes += waiting_.front().frame.size();
      pass_.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    }
    cursor_ = 0;
    uniform_ = true;
    for (const Item& item : pass_) {
      if (item.app != pass_.front().app || item.tag != pass_.front().tag) uniform_ = false;
    }
    pass_wire_.clear();
    pass_wire_.reserve(bytes + pass_.size() * net::kLengthPrefixBytes);
    for (const Item& item : pass_) {
      char prefix[net::kLengthPrefixBytes];
      net::encodeLengthPrefix(static_cast<uint32_t>(item.frame.size()), prefix);
      pass_wire_.append(prefix, sizeof prefix);
      pass_wire_.append(item.frame);
    }
  }
  if (pass_.empty()) return;
  refill();
  size_t work = 0;
  const size_t slots = table_.slotCount();
  while (cursor_ < slots && work < options_.slice && tokens_ >= 1) {
    ClientConn& c = table_.slot(cursor_++);
    ++work;
    if (!c.in_use || c.state != ConnState::Active) continue;
    if (uniform_) {
      // One target for the whole pass: one check, and a TCP connection takes the block.
      if (!wants(pass_.front(), c)) continue;
      if (!c.ws) {
        // False: the connection is over its output limit and closing (SlowPeer).
        if (!protocol_.sendFramed(c, pass_wire_)) continue;
        for (Item& item : pass_)
          ++item.written;
        work += std::max(pass_.size(), kWriteWork);
        tokens_ -= static_cast<double>(pass_.size());
        continue;
      }
    }
    bool wrote = false;
    for (Item& item : pass_) {
      if (!uniform_ && !wants(item, c)) continue;
      // False: closing (SlowPeer); the rest of the pass skips it.
      if (!protocol_.sendEncoded(c, item.frame)) break;
      ++item.written;
      ++work;
      tokens_ -= 1;
      wrote = true;
    }
    if (wrote) work += kWriteWork;
  }
  ++slices_;
  if (cursor_ >= slots) finishPass();
  schedule();
}

void BroadcastPacer::finishPass() {
  std::vector<Item> done;
  done.swap(pass_);
  cursor_ = 0;
  ++passes_;
  uint64_t written = 0;
  for (const Item& item : done)
    written += item.written;
  deliveries_ += written;
  roomMetrics().broadcast_writes.inc(written);
  roomMetrics().broadcasts_delivered.inc(done.size());
  for (const Item& item : done)
    on_done_(item.token, item.written);
}

}  // namespace push::room
