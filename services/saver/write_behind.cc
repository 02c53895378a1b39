#include "services/saver/write_behind.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "common/base/log.h"
#include "common/mysql/mysql_pool.h"
#include "common/mysql/mysql_session.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"

namespace push::saver {

namespace {

// Removed rows by their key, in statements of `(key) IN ((?,?,?), ...)` (executeBatch's VALUES
// form cannot express a row list for IN). Chunks are powers of two up to 128 rows, so a handful
// of distinct statements are prepared (and cached by the session) whatever the batch sizes.
Status deleteInboxRows(mysql::MySqlSession& session, const std::vector<mysql::Row>& rows) {
  size_t done = 0;
  while (done < rows.size()) {
    size_t n = 128;
    while (n > rows.size() - done)
      n >>= 1;
    std::string sql = "DELETE FROM inbox WHERE (app_name, user_id, message_id) IN (";
    std::vector<mysql::Value> params;
    params.reserve(n * 3);
    for (size_t i = 0; i < n; ++i) {
      sql += i ? ",(?,?,?)" : "(?,?,?)";
      params.insert(params.end(), rows[done + i].begin(), rows[done + i].end());
    }
    sql += ')';
    auto r = session.execute(sql, params);
    if (!r.isOk()) return r.status();
    done += n;
  }
  return Status::ok();
}

}  // namespace

WriteBehind::WriteBehind(net::EventLoop& loop, mysql::MySqlPool& pool, Options options,
                         NowMs now_ms)
    : loop_(loop), pool_(pool), options_(options), now_ms_(std::move(now_ms)) {
  next_purge_ms_ = steadyMs() + options_.purge_interval.count();
  timer_ = net::PeriodicTimer::create(loop_, [this] { onTick(); });
  timer_->start(options_.interval);
}

WriteBehind::~WriteBehind() {
  liveness_.kill();
}

std::string WriteBehind::keyOf(const std::string& app, const std::string& user, uint64_t id) {
  std::string key;
  key.reserve(app.size() + user.size() + 10);
  key.append(app).push_back('\0');
  key.append(user).push_back('\0');
  key.append(reinterpret_cast<const char*>(&id), sizeof id);
  return key;
}

void WriteBehind::stored(const std::string& app, const std::string& user, uint64_t id,
                         int64_t expire_ms, std::string message_bytes) {
  push(Fact{Fact::Kind::Store, app, user, id, 0, expire_ms, std::move(message_bytes), 0});
}

void WriteBehind::removed(const std::string& app, const std::string& user, uint64_t id) {
  auto it = waiting_stores_.find(keyOf(app, user, id));
  if (it != waiting_stores_.end()) {
    // Stored and removed before MySQL saw either: neither needs writing.
    facts_.erase(it->second);
    waiting_stores_.erase(it);
    ++coalesced_;
    return;
  }
  push(Fact{Fact::Kind::Remove, app, user, id, 0, 0, {}, 0});
}

void WriteBehind::broadcast(const broadcast::BroadcastMessage& b) {
  uint64_t& pending = pending_broadcasts_[b.app()];
  pending = std::max(pending, b.sequence());
  push(Fact{Fact::Kind::Broadcast,
            b.app(),
            {},
            b.message_id(),
            b.sequence(),
            static_cast<int64_t>(b.expires_ms()),
            b.SerializeAsString(),
            0});
}

uint64_t WriteBehind::pendingBroadcastSequence(const std::string& app) const {
  auto it = pending_broadcasts_.find(app);
  return it == pending_broadcasts_.end() ? 0 : it->second;
}

int64_t WriteBehind::oldestAgeMs() const {
  return facts_.empty() ? 0 : std::max<int64_t>(0, steadyMs() - facts_.front().at_ms);
}

void WriteBehind::push(Fact fact) {
  if (facts_.size() >= options_.max_backlog) {
    // The oldest fact not being written goes: Redis has it; only MySQL's copy is short.
    if (dropped_++ % 10'000 == 0) {
      LOG_WARN(Saver, "write-behind backlog at its cap ({} facts): dropping the oldest ({} so far)",
               options_.max_backlog, dropped_);
    }
    if (facts_.size() <= in_flight_) return;  // all in flight (cap below a batch): drop this one
    auto oldest = std::next(facts_.begin(), static_cast<std::ptrdiff_t>(in_flight_));
    if (oldest->kind == Fact::Kind::Store) {
      auto w = waiting_stores_.find(keyOf(oldest->app, oldest->user, oldest->id));
      if (w != waiting_stores_.end() && w->second == oldest) waiting_stores_.erase(w);
    }
    facts_.erase(oldest);
  }
  fact.at_ms = steadyMs();
  fact.seq = ++last_seq_;
  facts_.push_back(std::move(fact));
  if (facts_.back().kind == Fact::Kind::Store) {
    const Fact& f = facts_.back();
    waiting_stores_[keyOf(f.app, f.user, f.id)] = std::prev(facts_.end());
  }
  if (ready_ && facts_.size() - in_flight_ >= options_.batch && in_flight_ == 0 &&
      steadyMs() >= retry_at_ms_ && ripe()) {
    send();
  }
}

bool WriteBehind::ripe() const {
  if (facts_.size() <= in_flight_) return false;
  if (urgent()) return true;
  const Fact& next = *std::next(facts_.begin(), static_cast<std::ptrdiff_t>(in_flight_));
  return steadyMs() - next.at_ms >= options_.min_age.count();
}

bool WriteBehind::urgent() const {
  return !drains_.empty() || facts_.size() >= options_.max_backlog / 2;
}

int64_t WriteBehind::steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void WriteBehind::finishDrains() {
  if (drains_.empty()) return;
  // Written (or dropped): every fact up to last_seq is out of facts_.
  const uint64_t oldest = facts_.empty() ? UINT64_MAX : facts_.front().seq;
  const int64_t now = steadyMs();
  std::vector<std::function<void()>> ready;
  for (auto it = drains_.begin(); it != drains_.end();) {
    if (it->last_seq < oldest || now >= it->deadline_ms) {
      ready.push_back(std::move(it->done));
      it = drains_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& fn : ready)
    fn();
}

void WriteBehind::onTick() {
  if (ready_ && in_flight_ == 0 && steadyMs() >= retry_at_ms_ && ripe()) send();
  if (ready_ && !purging_ && steadyMs() >= next_purge_ms_) purge();
  finishDrains();
}

void WriteBehind::drain(std::chrono::milliseconds deadline, std::function<void()> done) {
  drains_.push_back(Drain{last_seq_, steadyMs() + deadline.count(), std::move(done)});
  retry_at_ms_ = 0;
  if (ready_ && in_flight_ == 0 && ripe()) send();  // its done runs from the tick or a batch
}

void WriteBehind::send() {
  // Take the batch (copied: the job runs on a worker thread while facts_ keeps changing).
  auto inserts = std::make_shared<std::vector<mysql::Row>>();
  auto removes = std::make_shared<std::vector<mysql::Row>>();
  auto broadcasts = std::make_shared<std::vector<mysql::Row>>();
  size_t bytes = 0;
  size_t n = 0;
  const bool now_urgent = urgent();
  const int64_t ripe_before = steadyMs() - options_.min_age.count();
  auto next = facts_.begin();
  while (n < facts_.size() && n < options_.batch && (n == 0 || bytes < options_.batch_bytes) &&
         (now_urgent || next->at_ms <= ripe_before)) {
    const Fact& f = *next++;
    ++n;
    if (f.kind == Fact::Kind::Store) {
      // In flight now: an ack from here on is written as a removal.
      auto w = waiting_stores_.find(keyOf(f.app, f.user, f.id));
      if (w != waiting_stores_.end() && w->second == std::prev(next)) waiting_stores_.erase(w);
    }
    bytes += f.app.size() + f.user.size() + f.bytes.size() + 32;
    switch (f.kind) {
      case Fact::Kind::Store:
        inserts->push_back(mysql::Row{f.app, f.user, f.id, f.expire_ms, f.bytes});
        break;
      case Fact::Kind::Remove:
        removes->push_back(mysql::Row{f.app, f.user, f.id});
        break;
      case Fact::Kind::Broadcast:
        broadcasts->push_back(mysql::Row{f.app, f.sequence, f.id, f.expire_ms, f.bytes});
        break;
    }
  }
  in_flight_ = n;
  // Inserts before deletes: a message stored and acked within one batch ends up deleted.
  pool_.runOrdered(
      [inserts, removes, broadcasts](mysql::MySqlSession& session) -> Status {
        return session.transaction([&](mysql::MySqlSession& s) -> Status {
          auto r = s.executeBatch(
              "INSERT IGNORE INTO inbox (app_name, user_id, message_id, expire_ms, body)",
              *inserts);
          if (!r.isOk()) return r.status();
          r = s.executeBatch(
              "INSERT IGNORE INTO broadcasts (app_name, seq, message_id, expire_ms, body)",
              *broadcasts);
          if (!r.isOk()) return r.status();
          return deleteInboxRows(s, *removes);
        });
      },
      [this, alive = liveness_.token()](Status st) {
        if (!alive.alive()) return;
        const size_t n = in_flight_;
        in_flight_ = 0;
        if (!st.isOk()) {
          if (healthy_) LOG_WARN(Saver, "write-behind to MySQL failed: {}", st.toString());
          healthy_ = false;
          retry_at_ms_ = steadyMs() + options_.retry.count();
          return;
        }
        if (!healthy_) LOG_INFO(Saver, "write-behind to MySQL works again");
        healthy_ = true;
        for (size_t i = 0; i < n && !facts_.empty(); ++i) {
          const Fact& f = facts_.front();
          if (f.kind == Fact::Kind::Broadcast) {
            auto it = pending_broadcasts_.find(f.app);
            if (it != pending_broadcasts_.end() && it->second <= f.sequence) {
              pending_broadcasts_.erase(it);
            }
          }
          facts_.pop_front();
        }
        written_ += n;
        // More waiting: go on at once rather than at the next tick.
        if (facts_.size() >= options_.batch && ripe()) send();
        finishDrains();
      });
}

void WriteBehind::purge() {
  purging_ = true;
  next_purge_ms_ = steadyMs() + options_.purge_interval.count();
  auto removed = std::make_shared<uint64_t>(0);
  const int64_t now = now_ms_();
  const std::string limit = " LIMIT " + std::to_string(options_.purge_slice);
  pool_.run(
      [removed, now, limit, slice = options_.purge_slice](mysql::MySqlSession& s) -> Status {
        // Slices, so no statement holds locks for long; a bounded number per run.
        for (int round = 0; round < 100; ++round) {
          auto inbox = s.execute("DELETE FROM inbox WHERE expire_ms < ?" + limit, {now});
          if (!inbox.isOk()) return inbox.status();
          auto bcast = s.execute(
              "DELETE FROM broadcasts WHERE expire_ms > 0 AND expire_ms < ?" + limit, {now});
          if (!bcast.isOk()) return bcast.status();
          *removed += *inbox + *bcast;
          if (*inbox < slice && *bcast < slice) break;
        }
        return Status::ok();
      },
      [this, alive = liveness_.token(), removed](Status st) {
        if (!alive.alive()) return;
        purging_ = false;
        purged_ += *removed;
        if (!st.isOk()) LOG_WARN(Saver, "purging expired rows from MySQL: {}", st.toString());
      });
}

}  // namespace push::saver
