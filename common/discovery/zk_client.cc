#include "common/discovery/zk_client.h"

#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"

#if defined(__SANITIZE_ADDRESS__)
#define PUSH_ZK_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PUSH_ZK_LSAN 1
#endif
#endif
#ifdef PUSH_ZK_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace push::discovery {

namespace detail {

// What a completion carries to the loop. Filled on the C client's completion thread.
struct ZkReply {
  int rc = ZOK;
  std::string value;  // data (get) or the created path (create)
  int32_t version = 0;
  int64_t ephemeral_owner = 0;
  std::vector<std::string> children;
};

// One outstanding async call: the context pointer handed to the C API. Deleted exactly once,
// by whoever removes it from ZkSession::calls (under its mutex): its completion (on the
// completion thread), issue() when the C client refused it before registering a completion,
// or, for the calls the C client never completed, ZkSession's owner after zookeeper_close
// returned (its threads are joined by then).
struct ZkCall {
  ZkSession* session;
  // Built and run on the loop thread; moved out under ZkSession::mu (empty once answered).
  std::function<void(ZkReply&)> done;
};

// One zhandle_t and what the C client's threads share with the loop: the loop to post to, the
// client's liveness (checked on the loop only; the token's copies are atomic refcounts) and
// the calls in flight. Lives from zookeeper_init until after zookeeper_close.
struct ZkSession {
  explicit ZkSession(Liveness::Token token) : alive(std::move(token)) {}

  net::EventLoop* loop = nullptr;
  ZkClient* client = nullptr;  // touched on the loop only, after alive.alive()
  Liveness::Token alive;
  uint64_t generation = 0;
  zhandle_t* zh = nullptr;
  std::mutex mu;
  std::set<ZkCall*> calls;  // guarded by mu

  // The default watcher: session events and the watches set with watch=1 (C client threads).
  // Why not zoo_awget & co. with a context per watch: the C client calls every registered
  // watcher object again on each session event (and not at all for watches that die with a
  // closed handle), so a per-watch heap context has no point where it can be freed safely.
  // One watcher whose context lives exactly as long as the handle, dispatching by path on the
  // loop, needs no such bookkeeping.
  //
  // A session event that says connected carries the session's id and password, read here:
  // the I/O thread writes them into the handle before it queues that event to this thread, so
  // this read is ordered after the write, where a read on the loop could race a later rewrite
  // (a reconnect).
  static void onWatch(zhandle_t* zh, int type, int state, const char* path, void* ctx) {
    auto* self = static_cast<ZkSession*>(ctx);
    std::string p = path != nullptr ? path : "";
    ZkClient::Credentials credentials;
    if (type == ZOO_SESSION_EVENT &&
        (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE)) {
      if (const clientid_t* id = zoo_client_id(zh); id != nullptr) {
        credentials.first = id->client_id;
        credentials.second.assign(id->passwd, sizeof id->passwd);
      }
    }
    self->loop->post([client = self->client, alive = self->alive, gen = self->generation, type,
                      state, p = std::move(p), credentials = std::move(credentials)] {
      if (!alive.alive()) return;
      client->onWatcherEvent(gen, type, state, p, credentials);
    });
  }

  // Completion side of a call: forget it, post its reply (unless issue() already answered
  // it: a call refused by a zoo_a* that had registered its completion anyway), free it. `done`
  // is taken under the lock because issue() may take it from the loop thread.
  static void finish(const void* data, ZkReply&& reply) {
    auto* call = static_cast<ZkCall*>(const_cast<void*>(data));
    ZkSession* self = call->session;
    std::function<void(ZkReply&)> done;
    {
      std::lock_guard<std::mutex> lock(self->mu);
      self->calls.erase(call);
      done = std::move(call->done);
    }
    delete call;
    if (!done) return;
    self->loop->post(
        [done = std::move(done), alive = self->alive, reply = std::move(reply)]() mutable {
          if (!alive.alive()) return;
          done(reply);
        });
  }
};

}  // namespace detail

namespace {

using detail::ZkReply;
using detail::ZkSession;

void onVoid(int rc, const void* data) {
  ZkReply r;
  r.rc = rc;
  ZkSession::finish(data, std::move(r));
}

void onString(int rc, const char* value, const void* data) {
  ZkReply r;
  r.rc = rc;
  if (rc == ZOK && value != nullptr) r.value = value;
  ZkSession::finish(data, std::move(r));
}

void onStat(int rc, const Stat* stat, const void* data) {
  ZkReply r;
  r.rc = rc;
  if (rc == ZOK && stat != nullptr) {
    r.version = stat->version;
    r.ephemeral_owner = stat->ephemeralOwner;
  }
  ZkSession::finish(data, std::move(r));
}

void onData(int rc, const char* value, int value_len, const Stat* stat, const void* data) {
  ZkReply r;
  r.rc = rc;
  if (rc == ZOK) {
    // A node created without data reports value_len -1.
    if (value != nullptr && value_len > 0) r.value.assign(value, static_cast<size_t>(value_len));
    if (stat != nullptr) {
      r.version = stat->version;
      r.ephemeral_owner = stat->ephemeralOwner;
    }
  }
  ZkSession::finish(data, std::move(r));
}

void onStrings(int rc, const String_vector* strings, const void* data) {
  ZkReply r;
  r.rc = rc;
  if (rc == ZOK && strings != nullptr) {
    r.children.reserve(static_cast<size_t>(strings->count));
    for (int32_t i = 0; i < strings->count; ++i)
      r.children.emplace_back(strings->data[i]);
    std::sort(r.children.begin(), r.children.end());
  }
  ZkSession::finish(data, std::move(r));
}

// The C client's own log lines (connection refused while a server is down, ...), at most one
// a second: they repeat at every reconnect attempt.
void onLibraryLog(const char* message) {
  LOG_EVERY_SEC(Warn, Zk, 1, "libzookeeper: {}", message != nullptr ? message : "");
}

Status statusOf(int rc, std::string_view what, std::string_view path) {
  std::string msg = std::string(what) + " " + std::string(path) + ": " + zerror(rc);
  switch (rc) {
    case ZOK:
      return Status::ok();
    case ZNONODE:
      return Status(Code::NOT_FOUND, std::move(msg));
    case ZNODEEXISTS:
      return Status(Code::ALREADY_EXISTS, std::move(msg));
    case ZBADVERSION:
    case ZNOTEMPTY:
    case ZNOCHILDRENFOREPHEMERALS:
      return Status(Code::FAILED_PRECONDITION, std::move(msg));
    case ZNOAUTH:
    case ZAUTHFAILED:
      return Status(Code::PERMISSION_DENIED, std::move(msg));
    case ZCONNECTIONLOSS:
    case ZSESSIONEXPIRED:
    case ZSESSIONMOVED:
    case ZCLOSING:
    case ZINVALIDSTATE:
    case ZTHROTTLEDOP:
      return Status(Code::UNAVAILABLE, std::move(msg));
    case ZOPERATIONTIMEOUT:
      return Status(Code::TIMEOUT, std::move(msg));
    case ZBADARGUMENTS:
      return Status(Code::INVALID_ARGUMENT, std::move(msg));
    default:
      return Status(Code::INTERNAL, std::move(msg));
  }
}

const char* stateName(int state) {
  if (state == ZOO_CONNECTED_STATE) return "connected";
  if (state == ZOO_CONNECTING_STATE) return "connecting";
  if (state == ZOO_ASSOCIATING_STATE) return "associating";
  if (state == ZOO_EXPIRED_SESSION_STATE) return "expired";
  if (state == ZOO_AUTH_FAILED_STATE) return "auth failed";
  if (state == ZOO_READONLY_STATE) return "read-only";
  return "not connected";
}

}  // namespace

Status ZkClient::checkPath(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return invalidArgument("zk path '" + std::string(path) + "' must start with '/'");
  }
  if (path.size() == 1) return Status::ok();
  if (path.back() == '/') {
    return invalidArgument("zk path '" + std::string(path) + "' must not end with '/'");
  }
  if (path.find("//") != std::string_view::npos) {
    return invalidArgument("zk path '" + std::string(path) + "' has an empty component");
  }
  if (path.find('\0') != std::string_view::npos) {
    return invalidArgument("zk path has a NUL byte");
  }
  return Status::ok();
}

Status ZkClient::checkName(std::string_view name, std::string_view what) {
  if (name.empty()) return invalidArgument(std::string(what) + " is empty");
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return invalidArgument(std::string(what) + " '" + std::string(name) +
                           "' must not contain '/' or NUL");
  }
  if (name == "." || name == "..") {
    return invalidArgument(std::string(what) + " must not be '" + std::string(name) + "'");
  }
  return Status::ok();
}

Result<std::unique_ptr<ZkClient>> ZkClient::create(net::EventLoop& loop, Options options) {
  if (options.hosts.empty()) return invalidArgument("zk: hosts is empty");
  if (options.session_timeout.count() <= 0) return invalidArgument("zk: session_timeout <= 0");
  if (!options.root.empty()) {
    if (Status st = checkPath(options.root); !st.isOk()) return st.withContext("zk root");
    if (options.root == "/") options.root.clear();
  }
  std::unique_ptr<ZkClient> client(new ZkClient(loop, std::move(options)));
  client->openSession();
  return client;
}

ZkClient::ZkClient(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)) {
  static std::once_flag quiet;
  // The C client logs at INFO to stderr by default (every connect, with the environment).
  std::call_once(quiet, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_WARN); });
}

ZkClient::~ZkClient() {
  liveness_.kill();  // completions posted from here on find the client dead
  closeSession();
  reinit_timer_.reset();
}

void ZkClient::openSession() {
  ++generation_;
  auto session = std::make_unique<detail::ZkSession>(liveness_.token());
  session->loop = &loop_;
  session->client = this;
  session->generation = generation_;
  zhandle_t* zh = zookeeper_init2(options_.hosts.c_str(), &detail::ZkSession::onWatch,
                                  static_cast<int>(options_.session_timeout.count()), nullptr,
                                  session.get(), ZOO_NO_LOG_CLIENTENV, &onLibraryLog);
  if (zh == nullptr) {
    // Out of fds or threads, or a host list that does not resolve: try again later.
    LOG_WARN(Zk, "zookeeper_init({}) failed: {}; retrying in {} ms", options_.hosts,
             std::strerror(errno), options_.reinit_delay.count());
    state_ = SessionState::Expired;
    if (!reinit_timer_)
      reinit_timer_ = net::PeriodicTimer::create(loop_, [this] { openSession(); });
    reinit_timer_->start(options_.reinit_delay, false);
    return;
  }
  session->zh = zh;
  session_ = std::move(session);
  state_ = SessionState::Connecting;
}

void ZkClient::closeSession() {
  if (!session_) return;
  // Joins the C client's threads: no callback of this handle runs after it returns. Calls it
  // completed during the close posted their replies (dropped on the loop unless the client is
  // still alive and wants them: they fail UNAVAILABLE, ZCLOSING).
  zookeeper_close(session_->zh);
  session_->zh = nullptr;
  credentials_ = {0, ""};
  std::set<detail::ZkCall*> leftover;
  {
    std::lock_guard<std::mutex> lock(session_->mu);
    leftover.swap(session_->calls);
  }
  for (detail::ZkCall* call : leftover) {
    if (call->done) fail(std::move(call->done), ZCLOSING);
    delete call;
  }
  session_.reset();
}

std::pair<int64_t, std::string> ZkClient::sessionCredentialsForTest() const {
  return credentials_;
}

void ZkClient::onWatcherEvent(uint64_t generation, int type, int state, const std::string& path,
                              const Credentials& credentials) {
  if (generation != generation_) return;  // an event of a handle already closed
  if (type == ZOO_SESSION_EVENT) {
    // Connected: the id the server gave (the same one after a reconnect within the session).
    if (credentials.first != 0) credentials_ = credentials;
    onSessionEvent(generation, state);
    return;
  }
  EventType event;
  if (type == ZOO_CREATED_EVENT) {
    event = EventType::Created;
  } else if (type == ZOO_DELETED_EVENT) {
    event = EventType::Deleted;
  } else if (type == ZOO_CHANGED_EVENT) {
    event = EventType::Changed;
  } else if (type == ZOO_CHILD_EVENT) {
    event = EventType::Child;
  } else {
    return;  // ZOO_NOTWATCHING_EVENT: a removed watch, none of ours
  }
  // Callbacks may add or remove watches (or destroy the client): collect the ids first and
  // look each up again before calling it.
  std::vector<uint64_t> ids;
  auto [begin, end] = watches_.equal_range(path);
  for (auto it = begin; it != end; ++it)
    ids.push_back(it->second.first);
  const std::string relative = relativePath(path);
  auto alive = liveness_.token();
  for (uint64_t id : ids) {
    auto [b, e] = watches_.equal_range(path);
    auto it = std::find_if(b, e, [id](const auto& entry) { return entry.second.first == id; });
    if (it == e) continue;
    WatchFn fn = it->second.second;  // a copy: the callback may remove itself
    fn(event, relative);
    if (!alive.alive()) return;
  }
}

void ZkClient::onSessionEvent(uint64_t generation, int state) {
  if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE) {
    if (state_ == SessionState::Connected) return;
    state_ = SessionState::Connected;
    const bool reestablished = expired_before_;
    expired_before_ = false;
    LOG_INFO(Zk, "zk session 0x{:x} {} ({}, timeout {} ms)", sessionId(),
             reestablished ? "re-established after expiry" : "connected", options_.hosts,
             zoo_recv_timeout(session_->zh));
    auto alive = liveness_.token();
    notifySession(SessionEvent::Connected);
    if (!alive.alive() || generation != generation_) return;
    if (reestablished) notifySession(SessionEvent::Reestablished);
    return;
  }
  if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
    LOG_WARN(Zk, "zk session 0x{:x} {}: closing it and opening a new session ({})", sessionId(),
             stateName(state), options_.hosts);
    state_ = SessionState::Expired;
    expired_before_ = true;
    closeSession();
    auto alive = liveness_.token();
    notifySession(SessionEvent::Expired);
    if (!alive.alive() || session_ != nullptr) return;  // destroyed, or a listener reopened
    openSession();
    return;
  }
  // Connecting / associating / not connected: the connection is gone, the session may not be.
  if (state_ == SessionState::Connected) {
    state_ = SessionState::Connecting;
    LOG_WARN(Zk, "zk session 0x{:x} lost its connection ({}); reconnecting", sessionId(),
             stateName(state));
    notifySession(SessionEvent::Disconnected);
  }
}

void ZkClient::notifySession(SessionEvent event) {
  std::vector<uint64_t> ids;
  for (const auto& [id, fn] : listeners_)
    ids.push_back(id);
  auto alive = liveness_.token();
  for (uint64_t id : ids) {
    auto it = listeners_.find(id);
    if (it == listeners_.end()) continue;
    SessionFn fn = it->second;
    fn(event);
    if (!alive.alive()) return;
  }
}

uint64_t ZkClient::addWatch(std::string_view path, WatchFn fn) {
  uint64_t id = next_id_++;
  watches_.emplace(fullPath(path), std::make_pair(id, std::move(fn)));
  return id;
}

void ZkClient::removeWatch(uint64_t id) {
  for (auto it = watches_.begin(); it != watches_.end(); ++it) {
    if (it->second.first == id) {
      watches_.erase(it);
      return;
    }
  }
}

uint64_t ZkClient::addSessionListener(SessionFn fn) {
  uint64_t id = next_id_++;
  listeners_.emplace(id, std::move(fn));
  return id;
}

void ZkClient::removeSessionListener(uint64_t id) {
  listeners_.erase(id);
}

std::string ZkClient::fullPath(std::string_view path) const {
  if (options_.root.empty()) return std::string(path);
  if (path == "/") return options_.root;
  return options_.root + std::string(path);
}

std::string ZkClient::relativePath(std::string_view full) const {
  if (options_.root.empty()) return std::string(full);
  if (full == options_.root) return "/";
  if (full.size() > options_.root.size() && full.substr(0, options_.root.size()) == options_.root &&
      full[options_.root.size()] == '/') {
    return std::string(full.substr(options_.root.size()));
  }
  return std::string(full);
}

void ZkClient::fail(ReplyFn done, int rc) {
  loop_.post([done = std::move(done), alive = liveness_.token(), rc]() mutable {
    if (!alive.alive()) return;
    ZkReply r;
    r.rc = rc;
    done(r);
  });
}

void ZkClient::postStatus(Done done, Status status) {
  loop_.post([done = std::move(done), alive = liveness_.token(), status = std::move(status)] {
    if (alive.alive()) done(status);
  });
}

void ZkClient::issue(const std::string& full, ReplyFn done, const StartFn& start) {
  if (!session_) {
    fail(std::move(done), ZINVALIDSTATE);  // expired, the next session not opened yet
    return;
  }
  auto owned = std::make_unique<detail::ZkCall>(detail::ZkCall{session_.get(), std::move(done)});
  detail::ZkCall* call = owned.get();
  {
    std::lock_guard<std::mutex> lock(session_->mu);
    session_->calls.insert(call);  // may throw: `owned` still frees it
  }
  owned.release();  // tracked: freed by whoever takes it out of the set
  int rc;
  {
#ifdef PUSH_ZK_LSAN
    // libzookeeper_mt 3.8.0 leaks what a zookeeper_close finds in flight: the completion
    // entries it queues as ZCLOSING after its completion thread stopped are never freed, nor
    // what hangs off them (request buffer, watch registration, path copy), all allocated here,
    // inside the zoo_a* call on this thread. LeakSanitizer ignores what this thread allocates
    // while disabled, so exactly these allocations are exempt: not ours made before the call
    // (the ZkCall), nor anything allocated on the library's threads (our completions). A
    // suppression could not be this narrow: the library's allocating functions are static and
    // stripped, so its leak stacks name no function, only the module, and a module suppression
    // also hides our allocations in completions (their callers are library frames).
    __lsan::ScopedDisabler library_allocations;
#endif
    rc = start(session_->zh, full.c_str(), call);
  }
  if (rc == ZOK) return;
  // Refused. ZBADARGUMENTS and ZINVALIDSTATE come from the checks a zoo_a* makes before it
  // registers the completion: it will never run, the call is ours to free. Other codes
  // (ZMARSHALLINGERROR) may come after the completion was registered (the request then failed
  // to queue): the C client will run it later (connection loss, close) or zookeeper_close
  // leaves it to closeSession(), so the call stays tracked and only its `done` is taken here.
  // It may also have run already, on the completion thread: then it answered and freed the
  // call, and the set no longer holds it.
  const bool never_registered = rc == ZBADARGUMENTS || rc == ZINVALIDSTATE;
  ReplyFn answer;
  {
    std::lock_guard<std::mutex> lock(session_->mu);
    if (session_->calls.count(call) == 0) return;  // completed and freed by finish()
    answer = std::move(call->done);
    if (never_registered) session_->calls.erase(call);
  }
  if (never_registered) delete call;
  if (answer) fail(std::move(answer), rc);
}

namespace {
std::function<int(void*, const char*, void*)> startCreate(std::string data, int mode) {
  return [data = std::move(data), mode](void* zh, const char* path, void* ctx) {
    return zoo_acreate(static_cast<zhandle_t*>(zh), path, data.data(),
                       static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE, mode, &onString, ctx);
  };
}
}  // namespace

void ZkClient::create(std::string_view path, std::string_view data, CreateMode mode,
                      std::function<void(Result<std::string>)> done) {
  if (Status st = checkPath(path); !st.isOk()) {
    return postStatus([done = std::move(done)](Status bad) { done(std::move(bad)); }, st);
  }
  std::string full = fullPath(path);
  issue(
      full,
      [this, full, done = std::move(done)](ZkReply& r) {
        if (r.rc != ZOK) return done(statusOf(r.rc, "create", full));
        done(relativePath(r.value.empty() ? full : r.value));
      },
      startCreate(std::string(data),
                  mode == CreateMode::Ephemeral ? ZOO_EPHEMERAL : ZOO_PERSISTENT));
}

void ZkClient::createRecursive(std::string_view path, std::string_view data, CreateMode mode,
                               Done done) {
  if (Status st = checkPath(path); !st.isOk()) return postStatus(std::move(done), st);
  createChain(fullPath(path), std::string(data),
              mode == CreateMode::Ephemeral ? ZOO_EPHEMERAL : ZOO_PERSISTENT, std::move(done));
}

void ZkClient::createChain(const std::string& full, const std::string& data, int mode, Done done) {
  issue(
      full,
      [this, full, data, mode, done = std::move(done)](ZkReply& r) mutable {
        if (r.rc != ZNONODE) return done(statusOf(r.rc, "create", full));
        const std::string parent = full.substr(0, full.rfind('/'));
        if (parent.empty()) return done(statusOf(r.rc, "create", full));
        // A missing parent: make it (persistent, empty), then this node again. A parent made
        // meanwhile by someone else is fine; one deleted again in between fails the next try.
        createChain(parent, "", ZOO_PERSISTENT,
                    [this, full, data, mode, done = std::move(done)](Status st) mutable {
                      if (!st.isOk() && st.code() != Code::ALREADY_EXISTS) return done(st);
                      issue(
                          full,
                          [full, done = std::move(done)](ZkReply& again) {
                            done(statusOf(again.rc, "create", full));
                          },
                          startCreate(data, mode));
                    });
      },
      startCreate(data, mode));
}

void ZkClient::set(std::string_view path, std::string_view data, int32_t version, Done done) {
  if (Status st = checkPath(path); !st.isOk()) return postStatus(std::move(done), st);
  std::string full = fullPath(path);
  issue(
      full, [full, done = std::move(done)](ZkReply& r) { done(statusOf(r.rc, "set", full)); },
      [data = std::string(data), version](void* zh, const char* p, void* ctx) {
        return zoo_aset(static_cast<zhandle_t*>(zh), p, data.data(), static_cast<int>(data.size()),
                        version, &onStat, ctx);
      });
}

void ZkClient::remove(std::string_view path, int32_t version, Done done) {
  if (Status st = checkPath(path); !st.isOk()) return postStatus(std::move(done), st);
  std::string full = fullPath(path);
  issue(
      full, [full, done = std::move(done)](ZkReply& r) { done(statusOf(r.rc, "delete", full)); },
      [version](void* zh, const char* p, void* ctx) {
        return zoo_adelete(static_cast<zhandle_t*>(zh), p, version, &onVoid, ctx);
      });
}

void ZkClient::get(std::string_view path, bool watch, NodeDone done) {
  if (Status st = checkPath(path); !st.isOk()) {
    return postStatus([done = std::move(done)](Status bad) { done(std::move(bad)); }, st);
  }
  std::string full = fullPath(path);
  issue(
      full,
      [full, done = std::move(done)](ZkReply& r) {
        if (r.rc != ZOK) return done(statusOf(r.rc, "get", full));
        Node node;
        node.data = std::move(r.value);
        node.version = r.version;
        node.ephemeral_owner = r.ephemeral_owner;
        done(std::move(node));
      },
      [watch](void* zh, const char* p, void* ctx) {
        return zoo_aget(static_cast<zhandle_t*>(zh), p, watch ? 1 : 0, &onData, ctx);
      });
}

void ZkClient::getChildren(std::string_view path, bool watch, ChildrenDone done) {
  if (Status st = checkPath(path); !st.isOk()) {
    return postStatus([done = std::move(done)](Status bad) { done(std::move(bad)); }, st);
  }
  std::string full = fullPath(path);
  issue(
      full,
      [full, done = std::move(done)](ZkReply& r) {
        if (r.rc != ZOK) return done(statusOf(r.rc, "children of", full));
        done(std::move(r.children));
      },
      [watch](void* zh, const char* p, void* ctx) {
        return zoo_aget_children(static_cast<zhandle_t*>(zh), p, watch ? 1 : 0, &onStrings, ctx);
      });
}

void ZkClient::exists(std::string_view path, bool watch, Done done) {
  if (Status st = checkPath(path); !st.isOk()) return postStatus(std::move(done), st);
  std::string full = fullPath(path);
  issue(
      full, [full, done = std::move(done)](ZkReply& r) { done(statusOf(r.rc, "exists", full)); },
      [watch](void* zh, const char* p, void* ctx) {
        return zoo_aexists(static_cast<zhandle_t*>(zh), p, watch ? 1 : 0, &onStat, ctx);
      });
}

}  // namespace push::discovery
