#include "common/mysql/mysql_pool.h"

#include <cppconn/connection.h>
#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <mysql_driver.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <random>
#include <thread>

#include "common/base/log.h"
#include "common/mysql/detail/sql_error.h"
#include "common/net/event_loop.h"

namespace push::mysql {

using Clock = std::chrono::steady_clock;

// One worker thread and its connection. Everything but `thread` is touched only by the
// worker thread itself.
struct MySqlPool::Worker {
  size_t index = 0;
  std::thread thread;
  std::unique_ptr<MySqlSession> session;
  Clock::time_point next_attempt{};     // no connection attempt before this
  Clock::time_point last_used{};        // the session's last job (or its connect)
  std::chrono::milliseconds backoff{};  // the next delay after a failed attempt
  bool needs_reconnect_count = false;   // a connection was lost or an attempt failed
  std::string last_error;               // why there is no connection
  std::minstd_rand random;
};

// Finished jobs waiting for the loop thread. One post() per batch: a drain already posted
// picks up what is added before it runs.
struct MySqlPool::Completions {
  std::mutex mu;
  std::vector<std::pair<Done, Status>> ready;  // guarded by mu
  bool posted = false;                         // guarded by mu

  void drain() {
    std::vector<std::pair<Done, Status>> batch;
    {
      std::lock_guard<std::mutex> lock(mu);
      batch.swap(ready);
      posted = false;
    }
    for (auto& [done, status] : batch)
      done(std::move(status));
  }
};

namespace {

// Connector/C++'s driver registry is not thread-safe on first use; the driver object itself
// is (each connection is used by one thread).
sql::Driver* driverInstance() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  return sql::mysql::get_mysql_driver_instance();
}

int wholeSeconds(std::chrono::milliseconds ms) {
  if (ms.count() <= 0) return 0;
  return static_cast<int>((ms.count() + 999) / 1000);
}

std::string describe(const MySqlPool::Options& o) {
  if (!o.unix_socket.empty()) return o.user + "@unix:" + o.unix_socket + "/" + o.database;
  return o.user + "@" + o.host + ":" + std::to_string(o.port) + "/" + o.database;
}

}  // namespace

Result<std::unique_ptr<MySqlPool>> MySqlPool::create(net::EventLoop& loop, Options options) {
  if (options.user.empty()) return invalidArgument("MySqlPool: user is empty");
  if (options.unix_socket.empty() && (options.host.empty() || options.port == 0))
    return invalidArgument("MySqlPool: host and port (or unix_socket) are required");
  if (options.threads < 1 || options.threads > 64)
    return invalidArgument("MySqlPool: threads " + std::to_string(options.threads) +
                           " is out of range [1, 64]");
  if (options.reconnect_min.count() <= 0 || options.reconnect_max < options.reconnect_min)
    return invalidArgument("MySqlPool: need 0 < reconnect_min <= reconnect_max");
  if (options.connect_timeout.count() <= 0)
    return invalidArgument("MySqlPool: connect_timeout must be positive");
  if (options.max_queued == 0) return invalidArgument("MySqlPool: max_queued must be positive");
  sql::Driver* driver = nullptr;
  try {
    driver = driverInstance();
  } catch (...) {
    bool lost = false;
    return detail::currentExceptionStatus("loading the MySQL driver", &lost);
  }
  if (driver == nullptr) return internalError("MySqlPool: no MySQL driver");
  std::unique_ptr<MySqlPool> pool(new MySqlPool(loop, std::move(options), driver));
  for (size_t i = 0; i < pool->options_.threads; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->index = i;
    worker->backoff = pool->options_.reconnect_min;
    worker->random.seed(static_cast<unsigned>(std::random_device{}()));
    pool->workers_.push_back(std::move(worker));
  }
  for (auto& worker : pool->workers_) {
    Worker* w = worker.get();
    w->thread = std::thread([p = pool.get(), w] { p->workerMain(*w); });
  }
  return pool;
}

MySqlPool::MySqlPool(net::EventLoop& loop, Options options, sql::Driver* driver)
    : loop_(loop),
      options_(std::move(options)),
      driver_(driver),
      completions_(std::make_shared<Completions>()) {}

MySqlPool::~MySqlPool() {
  std::deque<Item> cancelled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cancelled.swap(ordered_);
    for (Item& item : shared_)
      cancelled.push_back(std::move(item));
    shared_.clear();
  }
  cv_.notify_all();
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
  // Jobs that finished before the workers stopped: their Done now, before the cancelled.
  completions_->drain();
  for (Item& item : cancelled) {
    ++jobs_failed_;
    item.done(Status(Code::CANCELLED, "MySqlPool destroyed before the job ran"));
  }
}

void MySqlPool::run(Job job, Done done) {
  submit(Item{std::move(job), std::move(done)}, false);
}

void MySqlPool::runOrdered(Job job, Done done) {
  submit(Item{std::move(job), std::move(done)}, true);
}

void MySqlPool::submit(Item item, bool ordered) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shared_.size() + ordered_.size() < options_.max_queued) {
      (ordered ? ordered_ : shared_).push_back(std::move(item));
      item.done = nullptr;
    }
  }
  if (item.done) {
    ++jobs_failed_;
    item.done(Status(Code::OVERLOADED,
                     "MySqlPool: " + std::to_string(options_.max_queued) + " jobs already queued"));
    return;
  }
  // Every worker may take a run() job, only worker 0 an ordered one: wake them all (a
  // handful of threads) rather than risk waking one that cannot take it.
  cv_.notify_all();
}

size_t MySqlPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shared_.size() + ordered_.size();
}

MySqlPool::Stats MySqlPool::stats() const {
  Stats s;
  s.jobs_ok = jobs_ok_.load(std::memory_order_relaxed);
  s.jobs_failed = jobs_failed_.load(std::memory_order_relaxed);
  s.reconnects = reconnects_.load(std::memory_order_relaxed);
  return s;
}

void MySqlPool::complete(Done done, Status status) {
  (status.isOk() ? jobs_ok_ : jobs_failed_).fetch_add(1, std::memory_order_relaxed);
  bool post = false;
  {
    std::lock_guard<std::mutex> lock(completions_->mu);
    completions_->ready.emplace_back(std::move(done), std::move(status));
    post = !completions_->posted;
    completions_->posted = true;
  }
  // The drain holds the Completions, not the pool: it may run after the pool is gone
  // (finding nothing: the destructor drained it).
  if (post) loop_.post([completions = completions_] { completions->drain(); });
}

void MySqlPool::workerMain(Worker& worker) {
  // libmysql keeps per-thread state; Connector/C++ sets it up per thread with these.
  try {
    driver_->threadInit();
  } catch (...) {  // nothing to report to: the first connect fails and says why
  }
  connect(worker);
  for (;;) {
    std::optional<Item> item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto has_work = [&] {
        return stopping_ || !shared_.empty() || (worker.index == 0 && !ordered_.empty());
      };
      if (worker.session) {
        cv_.wait(lock, has_work);
      } else {
        cv_.wait_until(lock, worker.next_attempt, has_work);
      }
      if (stopping_) break;
      if (worker.index == 0 && !ordered_.empty()) {
        item.emplace(std::move(ordered_.front()));
        ordered_.pop_front();
      } else if (!shared_.empty()) {
        item.emplace(std::move(shared_.front()));
        shared_.pop_front();
      }
    }
    if (item && worker.session && Clock::now() - worker.last_used >= options_.ping_after_idle) {
      // The server may have closed an idle connection (restart, wait_timeout): find out now
      // and reconnect at once rather than fail the job for it.
      Status alive = worker.session->ping();
      if (!alive.isOk()) {
        loseSession(worker, alive);
        worker.next_attempt = Clock::now();
      }
    }
    if (!worker.session && Clock::now() >= worker.next_attempt) connect(worker);
    if (!item) continue;
    Status status =
        worker.session
            ? runJob(worker, item->job)
            : unavailable("MySQL " + describe(options_) + " not connected: " + worker.last_error);
    item->job = nullptr;  // what the job captured is released on the worker, not the loop
    worker.last_used = Clock::now();
    complete(std::move(item->done), std::move(status));
  }
  try {
    worker.session.reset();
    driver_->threadEnd();
  } catch (...) {  // shutting down: nothing left to tell
  }
}

void MySqlPool::connect(Worker& worker) {
  try {
    sql::ConnectOptionsMap props;
    if (!options_.unix_socket.empty()) {
      props["hostName"] = sql::SQLString("unix://" + options_.unix_socket);
    } else {
      props["hostName"] =
          sql::SQLString("tcp://" + options_.host + ":" + std::to_string(options_.port));
    }
    props["userName"] = sql::SQLString(options_.user);
    props["password"] = sql::SQLString(options_.password);
    if (!options_.database.empty()) props["schema"] = sql::SQLString(options_.database);
    props["OPT_CONNECT_TIMEOUT"] = wholeSeconds(options_.connect_timeout);
    if (int io = wholeSeconds(options_.io_timeout); io > 0) {
      props["OPT_READ_TIMEOUT"] = io;
      props["OPT_WRITE_TIMEOUT"] = io;
    }
    // Never reconnect behind our back: prepared statements and transactions would vanish.
    props["OPT_RECONNECT"] = false;
    props["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
    props["CLIENT_MULTI_STATEMENTS"] = false;
    std::unique_ptr<sql::Connection> connection(driver_->connect(props));
    worker.session =
        std::make_unique<MySqlSession>(std::move(connection), options_.statement_cache);
  } catch (...) {
    bool lost = false;
    Status status = detail::currentExceptionStatus("connecting to " + describe(options_), &lost);
    worker.last_error = status.message();
    worker.needs_reconnect_count = true;
    healthy_.store(false, std::memory_order_relaxed);
    LOG_EVERY_SEC(Warn, Mysql, 5, "worker {}: {}", worker.index, status.toString());
    scheduleReconnect(worker);
    return;
  }
  if (worker.needs_reconnect_count) {
    reconnects_.fetch_add(1, std::memory_order_relaxed);
    LOG_INFO(Mysql, "worker {}: reconnected to {}", worker.index, describe(options_));
  }
  worker.needs_reconnect_count = false;
  worker.last_used = Clock::now();
  worker.backoff = options_.reconnect_min;
  worker.last_error.clear();
  healthy_.store(true, std::memory_order_relaxed);
}

void MySqlPool::scheduleReconnect(Worker& worker) {
  // +-25% jitter, so the workers of many processes do not reconnect in step.
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  auto delay = std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(worker.backoff.count()) * jitter(worker.random)));
  worker.next_attempt = Clock::now() + delay;
  worker.backoff = std::min(worker.backoff * 2, options_.reconnect_max);
}

void MySqlPool::loseSession(Worker& worker, const Status& why) {
  worker.last_error = why.message();
  worker.needs_reconnect_count = true;
  healthy_.store(false, std::memory_order_relaxed);
  LOG_EVERY_SEC(Warn, Mysql, 5, "worker {}: connection lost: {}", worker.index, why.toString());
  try {
    worker.session.reset();
  } catch (...) {  // closing a dead connection
  }
  worker.backoff = options_.reconnect_min;
  scheduleReconnect(worker);
}

Status MySqlPool::runJob(Worker& worker, const Job& job) {
  Status status;
  try {
    status = job(*worker.session);
  } catch (...) {
    // A job that throws (it should return a Status): its exception stops here.
    bool lost = false;
    status = detail::currentExceptionStatus("a MySqlPool job", &lost);
    status = internalError(status.message());
  }
  if (worker.session->broken()) {
    loseSession(worker, status);
  } else {
    healthy_.store(true, std::memory_order_relaxed);
  }
  return status;
}

}  // namespace push::mysql
