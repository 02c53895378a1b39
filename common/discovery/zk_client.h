#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/net/owning_ptrs.h"

namespace push::net {
class EventLoop;
}

namespace push::discovery {

namespace detail {
struct ZkSession;  // one zhandle_t and what its threads share with the loop (zk_client.cc)
struct ZkReply;    // what a C completion handed back, carried to the loop
}  // namespace detail

// One ZooKeeper session for one net::EventLoop, on the ZooKeeper C client's async API
// (libzookeeper_mt: it runs its own I/O and completion threads):
//
//   ZkClient::Options o;
//   o.hosts = "127.0.0.1:2181";
//   o.root = "/push/c1";
//   ASSIGN_OR_RETURN(auto zk, ZkClient::create(loop, o));
//   zk->get("/config/room", true, [](Result<ZkClient::Node> r) { ... });
//
// Threads: every method is loop-thread only. Every completion and every watch event is posted
// to the loop (EventLoop::post) by the library's completion thread and runs there; nothing of
// ours runs on the library's threads except that post. A destroyed ZkClient never calls back:
// callbacks still in flight are dropped (a Liveness token checked on the loop), none runs
// inside the destructor.
//
// Paths are relative to `root` and absolute below it ("/services/room"): the client prefixes
// root itself rather than using the C client's chroot, so it can create root like any node.
//
// Completion: `done` runs exactly once, on the loop thread, never inside the call, with
//   OK / the value;
//   NOT_FOUND            ZNONODE (the node, or for create a parent, does not exist);
//   ALREADY_EXISTS       ZNODEEXISTS;
//   FAILED_PRECONDITION  ZBADVERSION, ZNOTEMPTY, ZNOCHILDRENFOREPHEMERALS;
//   PERMISSION_DENIED    ZNOAUTH, ZAUTHFAILED;
//   UNAVAILABLE          connection loss, session expired or moved, the handle closing, no
//                        session at the moment (between an expiry and the next one): the
//                        operation may or may not have been applied;
//   TIMEOUT              ZOPERATIONTIMEOUT;
//   INVALID_ARGUMENT     a malformed path (empty, no leading '/', a trailing '/', "//");
//   INTERNAL             anything else (the ZooKeeper error text is in the message).
// Apart from the session, the client keeps no state per call: a failed call is not retried.
//
// Session: `Connecting` until the server accepts the session, `Connected` while it is up;
// a lost connection goes back to `Connecting` (the C client reconnects by itself, the session,
// its ephemeral nodes and watches survive if it comes back within the session timeout). When
// the server says the session expired, the client closes that handle, logs a line, opens a new
// session (`Expired` until then, then `Connecting`) and once it is connected tells its session
// listeners `Reestablished`: ephemeral nodes of the old session are gone and its watches will
// never fire, so listeners re-create and re-watch (ServiceRegistry, ServiceWatcher and
// NodeWatcher do).
//
// Watches: get/getChildren/exists with `watch` set register a one-shot watch on the server
// (the C client's default watcher). Events come to the callbacks added with addWatch() for
// that path, whatever call set the watch; a watch is re-armed only by calling again.
// Loop-thread only. Not copyable.
class ZkClient {
 public:
  struct Options {
    // Comma-separated "host:port" list ("127.0.0.1:2181,127.0.0.1:2182"). Required.
    std::string hosts;
    // Session timeout asked for; the server clamps it into its [min, max] (2 to 20 ticks by
    // default). A session unheard of for this long expires and its ephemeral nodes go.
    // Default: 10 s.
    std::chrono::milliseconds session_timeout{10'000};
    // Every path is below this one: "/push/<cluster>". Empty: the tree's root. Must start
    // with '/' and not end with one. Not created by the client (createRecursive does it).
    std::string root;
    // Delay before a new zookeeper_init after it failed (out of fds, bad host list at
    // resolution). Default: 1 s.
    std::chrono::milliseconds reinit_delay{1'000};
  };

  enum class SessionState { Connecting, Connected, Expired };
  enum class SessionEvent {
    Connected,      // the session is up (the first time, or after a lost connection)
    Disconnected,   // the connection was lost; the session may still be alive
    Expired,        // the server dropped the session; a new one is being opened
    Reestablished,  // a new session replaced an expired one and is connected (after Connected)
  };
  enum class CreateMode { Persistent, Ephemeral };
  enum class EventType { Created, Deleted, Changed, Child };

  struct Node {
    std::string data;
    int32_t version = 0;
    // Session id owning an ephemeral node; 0 for a persistent one.
    int64_t ephemeral_owner = 0;
  };

  using Done = std::function<void(Status)>;
  using NodeDone = std::function<void(Result<Node>)>;
  using ChildrenDone = std::function<void(Result<std::vector<std::string>>)>;
  using WatchFn = std::function<void(EventType type, const std::string& path)>;
  using SessionFn = std::function<void(SessionEvent event)>;

  // Opens the session (zookeeper_init; connecting is asynchronous). INVALID_ARGUMENT for an
  // empty hosts string, a bad root or a session timeout <= 0. `loop` must outlive the client.
  static Result<std::unique_ptr<ZkClient>> create(net::EventLoop& loop, Options options);
  // Closes the session (zookeeper_close: the server deletes the session's ephemeral nodes at
  // once). Blocks the loop while the C client sends closeSession and joins its threads: a few
  // milliseconds when connected. No callback runs inside or after it.
  // TODO(zk): hand the close to a worker thread when a slow close is seen in practice.
  ~ZkClient();
  ZkClient(const ZkClient&) = delete;
  ZkClient& operator=(const ZkClient&) = delete;

  // Creates `path` with `data`. `done` gets the created path (relative to root).
  void create(std::string_view path, std::string_view data, CreateMode mode,
              std::function<void(Result<std::string>)> done);
  // Creates `path`, first creating missing parents as empty persistent nodes (a parent that
  // appears meanwhile is fine). ALREADY_EXISTS when `path` itself exists.
  void createRecursive(std::string_view path, std::string_view data, CreateMode mode, Done done);
  // Sets the data of `path` when its version is `version` (-1: any version).
  void set(std::string_view path, std::string_view data, int32_t version, Done done);
  // Deletes `path` when its version is `version` (-1: any).
  void remove(std::string_view path, int32_t version, Done done);
  // Reads `path`. With `watch`, a data watch is left on it (when it exists).
  void get(std::string_view path, bool watch, NodeDone done);
  // The names of `path`'s children (not paths), sorted. With `watch`, a child watch.
  void getChildren(std::string_view path, bool watch, ChildrenDone done);
  // OK when `path` exists, NOT_FOUND when not. With `watch`, a watch is left in both cases
  // (Created fires when it appears).
  void exists(std::string_view path, bool watch, Done done);

  // Calls `fn` on the loop for every watch event on `path` (relative to root). Returns an id
  // for removeWatch(). `fn` may add or remove watches and listeners, and call the client.
  uint64_t addWatch(std::string_view path, WatchFn fn);
  void removeWatch(uint64_t id);
  // Calls `fn` on the loop for every session event. Returns an id for removeSessionListener().
  uint64_t addSessionListener(SessionFn fn);
  void removeSessionListener(uint64_t id);

  SessionState state() const { return state_; }
  bool connected() const { return state_ == SessionState::Connected; }
  // The current session's id: 0 before the first connection and from an expiry until the next
  // session connects. A copy taken when the session connected (the C client's own copy is
  // written by its I/O thread).
  int64_t sessionId() const { return credentials_.first; }
  // Session handles opened so far (zookeeper_init calls that succeeded or were tried): 1 +
  // the number of expiries recovered from, unless an init failed.
  uint64_t sessions() const { return generation_; }
  const Options& options() const { return options_; }
  net::EventLoop& loop() { return loop_; }

  // The session's id and password, for a test that takes the session over from a second
  // handle to expire it (zookeeper_init with this client id, then zookeeper_close).
  std::pair<int64_t, std::string> sessionCredentialsForTest() const;

  // INVALID_ARGUMENT unless `path` is absolute ("/a/b"): leading '/', no trailing '/', no
  // empty component, no NUL. "/" alone is valid. Public for the classes built on the client.
  static Status checkPath(std::string_view path);
  // INVALID_ARGUMENT unless `name` is one path component: non-empty, no '/', not "." or "..".
  static Status checkName(std::string_view name, std::string_view what);

 private:
  friend struct detail::ZkSession;
  using Credentials = std::pair<int64_t, std::string>;  // session id, password
  using ReplyFn = std::function<void(detail::ZkReply&)>;
  using StartFn = std::function<int(void* zh, const char* full_path, void* ctx)>;

  ZkClient(net::EventLoop& loop, Options options);
  // Opens a new handle for the next generation. On failure, retries after reinit_delay.
  void openSession();
  void closeSession();
  // Loop side of the C client's default watcher (posted).
  // `credentials` are the session's when a session event says connected, else {0, ""}.
  void onWatcherEvent(uint64_t generation, int type, int state, const std::string& path,
                      const Credentials& credentials);
  void onSessionEvent(uint64_t generation, int state);
  void notifySession(SessionEvent event);
  // The path as the server knows it (root + path), "" when root is empty and path is "/".
  std::string fullPath(std::string_view path) const;
  std::string relativePath(std::string_view full) const;
  // Starts one async call on the server path `full`: `start` issues it with the C API given
  // the zhandle_t and the completion context, and returns the C API's return code. `done`
  // runs on the loop (posted), exactly once, also when there is no session or the call was
  // refused (see zk_client.cc for a refusal whose completion was registered anyway).
  void issue(const std::string& full, ReplyFn done, const StartFn& start);
  // Posts `done` with a reply carrying the ZooKeeper code `rc`.
  void fail(ReplyFn done, int rc);
  void postStatus(Done done, Status status);
  // createRecursive on a server path.
  void createChain(const std::string& full, const std::string& data, int mode, Done done);

  net::EventLoop& loop_;
  const Options options_;
  std::unique_ptr<detail::ZkSession> session_;
  SessionState state_ = SessionState::Connecting;
  uint64_t generation_ = 0;
  bool expired_before_ = false;     // the session being opened replaces an expired one
  Credentials credentials_{0, ""};  // of the connected session (see sessionId())
  net::PeriodicTimerPtr reinit_timer_;
  uint64_t next_id_ = 1;
  std::multimap<std::string, std::pair<uint64_t, WatchFn>> watches_;  // by full path
  std::map<uint64_t, SessionFn> listeners_;
  Liveness liveness_;
};

}  // namespace push::discovery
