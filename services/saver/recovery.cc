#include "services/saver/recovery.h"

#include <memory>
#include <utility>

#include "common/base/log.h"
#include "common/mysql/mysql_pool.h"
#include "common/mysql/mysql_session.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/redis/redis_router.h"
#include "proto/broadcast.pb.h"
#include "services/saver/broadcast_log.h"
#include "services/saver/inbox_store.h"

namespace push::saver {

namespace {

std::string runIdOf(const redis::Reply& info) {
  if (!info.isString()) return {};
  size_t at = info.str.find("run_id:");
  if (at == std::string::npos) return {};
  at += 7;
  size_t end = info.str.find_first_of("\r\n", at);
  return info.str.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string asString(const mysql::Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return {};
}

uint64_t asUint(const mysql::Value& v) {
  if (const auto* u = std::get_if<uint64_t>(&v)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<uint64_t>(*i);
  return 0;
}

int64_t asInt(const mysql::Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&v)) return static_cast<int64_t>(*u);
  return 0;
}

// Waits for `n` completions, then runs `then` with the first error.
struct Countdown {
  size_t left = 1;
  Status first;
  std::function<void(Status)> then;
  void one(const Status& st) {
    if (!st.isOk() && first.isOk()) first = st;
    if (--left == 0) then(first);
  }
};

}  // namespace

Recovery::Recovery(net::EventLoop& loop, redis::RedisRouter& redis, mysql::MySqlPool& pool,
                   InboxStore& inbox, BroadcastLog& broadcasts, Options options, NowMs now_ms)
    : loop_(loop),
      redis_(redis),
      pool_(pool),
      inbox_(inbox),
      broadcasts_(broadcasts),
      options_(options),
      now_ms_(std::move(now_ms)) {}

Recovery::~Recovery() {
  liveness_.kill();
}

void Recovery::start() {
  timer_ = net::PeriodicTimer::create(loop_, [this] { check(); });
  timer_->start(options_.check_interval);
  check();
}

void Recovery::check() {
  if (checking_) return;
  checking_ = true;
  auto primaries = std::make_shared<std::vector<std::string>>(redis_.primaries());
  redis_.forEachPrimary({"INFO", "server"}, [this, alive = liveness_.token(),
                                             primaries](std::vector<Result<redis::Reply>> infos) {
    if (!alive.alive()) return;
    redis_.forEachPrimary({"DBSIZE"}, [this, alive, primaries, infos = std::move(infos)](
                                          std::vector<Result<redis::Reply>> sizes) {
      if (!alive.alive()) return;
      checking_ = false;
      std::vector<std::string> run_ids;
      std::vector<int64_t> counts;
      bool ok = infos.size() == primaries->size() && sizes.size() == primaries->size();
      for (size_t i = 0; ok && i < infos.size(); ++i) {
        if (!infos[i].isOk() || !sizes[i].isOk() || !sizes[i]->isInteger()) {
          ok = false;
          break;
        }
        run_ids.push_back(runIdOf(*infos[i]));
        counts.push_back(sizes[i]->integer);
      }
      redis_healthy_ = ok;
      if (ok) onChecked(*primaries, std::move(run_ids), std::move(counts));
    });
  });
}

void Recovery::onChecked(const std::vector<std::string>& primaries,
                         std::vector<std::string> run_ids, std::vector<int64_t> sizes) {
  bool lost = owed_;
  for (size_t i = 0; i < primaries.size(); ++i) {
    auto it = run_ids_.find(primaries[i]);
    const bool restarted = it == run_ids_.end() || it->second != run_ids[i];
    if (restarted && sizes[i] == 0) {
      LOG_WARN(Saver, "Redis {} (run_id {}) holds no keys: reading saver's data back from MySQL",
               primaries[i], run_ids[i]);
      lost = true;
    }
    run_ids_[primaries[i]] = run_ids[i];
  }
  if (!lost) return;
  if (running_) {
    owed_ = true;  // found again while recovering: once more when this one ends
    return;
  }
  begin();
}

void Recovery::begin() {
  running_ = true;
  owed_ = false;
  ++recoveries_;
  if (!before_scan_) return nextMessages(Cursor{});
  before_scan_([this, alive = liveness_.token()] {
    if (alive.alive()) nextMessages(Cursor{});
  });
}

void Recovery::nextMessages(Cursor cursor) {
  auto rows = std::make_shared<mysql::Rows>();
  const int64_t now = now_ms_();
  const uint32_t page = options_.page;
  pool_.run(
      [rows, cursor, now, page](mysql::MySqlSession& s) -> Status {
        auto r = s.query(
            "SELECT app_name, user_id, message_id, expire_ms, body FROM inbox WHERE expire_ms > ? "
            "AND (app_name > ? OR (app_name = ? AND (user_id > ? OR (user_id = ? AND "
            "message_id > ?)))) ORDER BY app_name, user_id, message_id LIMIT " +
                std::to_string(page),
            {now, cursor.app, cursor.app, cursor.user, cursor.user, cursor.id});
        if (!r.isOk()) return r.status();
        *rows = std::move(r).value();
        return Status::ok();
      },
      [this, alive = liveness_.token(), rows](Status st) {
        if (!alive.alive()) return;
        if (!st.isOk()) return finish(st.withContext("reading stored messages from MySQL"));
        if (rows->rows.empty()) return nextBroadcasts("", 0);
        auto countdown = std::make_shared<Countdown>();
        Cursor last;
        for (const mysql::Row& row : rows->rows) {
          if (row.size() != 5) continue;
          last = Cursor{asString(row[0]), asString(row[1]), asUint(row[2])};
          ++countdown->left;
          inbox_.restore(last.app, last.user, last.id, asInt(row[3]), asString(row[4]),
                         [countdown](Status st) { countdown->one(st); });
        }
        const size_t n = rows->rows.size();
        countdown->then = [this, alive, last, n](Status st) {
          if (!alive.alive()) return;
          if (!st.isOk()) return finish(st.withContext("writing stored messages back to Redis"));
          recovered_messages_ += n;
          nextMessages(last);
        };
        countdown->one(Status::ok());
      });
}

void Recovery::nextBroadcasts(std::string app, uint64_t seq) {
  auto rows = std::make_shared<mysql::Rows>();
  const int64_t now = now_ms_();
  const uint32_t page = options_.page;
  pool_.run(
      [rows, app, seq, now, page](mysql::MySqlSession& s) -> Status {
        auto r = s.query(
            "SELECT app_name, seq, body FROM broadcasts WHERE (expire_ms = 0 OR expire_ms > ?) "
            "AND (app_name > ? OR (app_name = ? AND seq > ?)) ORDER BY app_name, seq LIMIT " +
                std::to_string(page),
            {now, app, app, seq});
        if (!r.isOk()) return r.status();
        *rows = std::move(r).value();
        return Status::ok();
      },
      [this, alive = liveness_.token(), rows](Status st) {
        if (!alive.alive()) return;
        if (!st.isOk()) return finish(st.withContext("reading broadcasts from MySQL"));
        if (rows->rows.empty()) return finish(Status::ok());
        auto countdown = std::make_shared<Countdown>();
        std::string last_app;
        uint64_t last_seq = 0;
        for (const mysql::Row& row : rows->rows) {
          if (row.size() != 3) continue;
          broadcast::BroadcastMessage b;
          const std::string body = asString(row[2]);
          last_app = asString(row[0]);
          last_seq = asUint(row[1]);
          if (!b.ParseFromString(body)) continue;
          b.set_sequence(last_seq);
          ++countdown->left;
          broadcasts_.restore(b, [countdown](Status st) { countdown->one(st); });
        }
        const size_t n = rows->rows.size();
        countdown->then = [this, alive, last_app, last_seq, n](Status st) {
          if (!alive.alive()) return;
          if (!st.isOk()) return finish(st.withContext("writing broadcasts back to Redis"));
          recovered_broadcasts_ += n;
          nextBroadcasts(last_app, last_seq);
        };
        countdown->one(Status::ok());
      });
}

void Recovery::finish(const Status& st) {
  running_ = false;
  if (st.isOk()) {
    LOG_INFO(Saver, "recovery from MySQL done: {} messages, {} broadcasts so far",
             recovered_messages_, recovered_broadcasts_);
  } else {
    LOG_WARN(Saver, "recovery from MySQL failed: {}; trying again", st.toString());
    owed_ = true;  // at the next check
  }
}

}  // namespace push::saver
