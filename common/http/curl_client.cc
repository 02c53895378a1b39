#include "common/http/curl_client.h"

#include <curl/curl.h>
#include <uv.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "common/base/ascii.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"

namespace push::http {

namespace {

// RFC 9110 token characters: what a method or a header name may hold.
bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool headerValueSafe(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// curl_global_init is not thread-safe in every build: once per process, before any client.
// curl_global_cleanup is never called (clients on other loops may still be running at exit).
Status globalInit() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] {
    rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    if (rc == CURLE_OK && info && !(info->features & CURL_VERSION_ASYNCHDNS)) {
      LOG_WARN(Http, "libcurl {} resolves names synchronously: a slow DNS blocks the loop",
               info->version);
    }
  });
  if (rc != CURLE_OK) {
    return internalError(std::string("curl_global_init: ") + curl_easy_strerror(rc));
  }
  return Status::ok();
}

// The Status code of a failed transfer. Transient transport failures are UNAVAILABLE (what
// a caller retries), a request that can never work is INVALID_ARGUMENT.
Code codeFor(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return Code::TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SEND_FAIL_REWIND:
      return Code::UNAVAILABLE;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Code::INVALID_ARGUMENT;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_TOO_MANY_REDIRECTS:
      return Code::PROTOCOL_ERROR;
    default:
      return Code::INTERNAL;
  }
}

}  // namespace

std::optional<std::string_view> CurlClient::Response::header(std::string_view name) const {
  for (const Header& h : headers) {
    if (equalsIgnoreCase(h.first, name)) return std::string_view(h.second);
  }
  return std::nullopt;
}

struct CurlClient::Transfer {
  enum class State { Queued, Running, Deferred };

  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);  // after curl_multi_remove_handle, if it was added
    curl_slist_free_all(header_list);
  }

  CurlClient* client = nullptr;
  RequestId id = 0;
  Request request;  // owns the body curl sends (CURLOPT_POSTFIELDS does not copy)
  Done done;
  std::string host_key;     // "scheme://host:port", the per-host cap's key
  int64_t deadline_ms = 0;  // loop time
  State state = State::Queued;
  std::list<Transfer*>::iterator queue_pos;  // valid while Queued
  Status early;                              // the error of a Deferred one
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  Response response;
  bool over_limit = false;  // the body callback refused bytes over max_body_bytes
  char error[CURL_ERROR_SIZE] = {};
};

// CURLMOPT_TIMERFUNCTION's timer: a raw uv_timer_t rather than a net::PeriodicTimer, because
// curl asks for 0 ms ("call me on the next turn") after every new transfer and PeriodicTimer
// rounds 0 up to 1 ms. Freed in its close callback like the socket watches.
struct CurlClient::CurlTimer {
  uv_timer_t timer;
  CurlClient* client = nullptr;  // nullptr once closing
};

struct CurlClient::SocketWatch {
  uv_poll_t poll;
  CurlClient* client = nullptr;  // nullptr once closing: no event goes to curl after that
  curl_socket_t fd = CURL_SOCKET_BAD;
};

// The C callbacks curl and libuv call; friends of CurlClient.
struct CallbacksForCurl {
  using Transfer = CurlClient::Transfer;
  using SocketWatch = CurlClient::SocketWatch;

  // CURLMOPT_SOCKETFUNCTION: start, change or stop watching `s`. `socketp` is the watch
  // curl_multi_assign() gave it (nullptr the first time).
  static int onSocket(CURL*, curl_socket_t s, int what, void* userp, void* socketp) {
    auto* self = static_cast<CurlClient*>(userp);
    auto* watch = static_cast<SocketWatch*>(socketp);
    if (what == CURL_POLL_REMOVE) {
      if (watch) {
        self->closeWatch(watch);
        curl_multi_assign(self->multi_, s, nullptr);
      }
      return 0;
    }
    if (!watch) {
      watch = new SocketWatch;
      const int rc = uv_poll_init_socket(self->loop_.uvLoop(), &watch->poll, s);
      if (rc != 0) {
        // Unusual (an fd libuv cannot poll): curl fails the transfers on this socket.
        LOG_EVERY_SEC(Error, Http, 1, "uv_poll_init_socket({}): {}", static_cast<int>(s),
                      uv_strerror(rc));
        delete watch;  // never initialised: no uv_close
        return -1;
      }
      watch->poll.data = watch;
      watch->client = self;
      watch->fd = s;
      self->watches_.insert(watch);
      curl_multi_assign(self->multi_, s, watch);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    uv_poll_start(&watch->poll, events, &onPoll);
    return 0;
  }

  static void onPoll(uv_poll_t* handle, int status, int events) {
    auto* watch = static_cast<SocketWatch*>(handle->data);
    if (!watch->client) return;
    int flags = 0;
    if (status < 0) {
      flags = CURL_CSELECT_ERR;
    } else {
      if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
      if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    // May close this watch (curl says REMOVE) or, through a `done`, destroy the client.
    watch->client->socketAction(watch->fd, flags);
  }

  // CURLMOPT_TIMERFUNCTION: curl wants socket_action(CURL_SOCKET_TIMEOUT) after `ms` (-1:
  // never). curl must not be re-entered from here, so even 0 goes through the timer.
  static int onCurlTimer(CURLM*, long ms, void* userp) {
    auto* self = static_cast<CurlClient*>(userp);
    if (!self->curl_timer_) return 0;
    uv_timer_t* timer = &self->curl_timer_->timer;
    if (ms < 0) {
      uv_timer_stop(timer);
    } else {
      uv_timer_start(timer, &onCurlTimeout, static_cast<uint64_t>(ms), 0);
    }
    return 0;
  }

  static void onCurlTimeout(uv_timer_t* handle) {
    auto* box = static_cast<CurlClient::CurlTimer*>(handle->data);
    if (box->client) box->client->socketAction(CURL_SOCKET_TIMEOUT, 0);
  }

  static size_t onBody(char* data, size_t size, size_t count, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    const size_t len = size * count;
    if (t->response.body.size() + len > t->client->options_.max_body_bytes) {
      t->over_limit = true;
      return 0;  // anything but `len` aborts the transfer (CURLE_WRITE_ERROR)
    }
    t->response.body.append(data, len);
    return len;
  }

  // One header line at a time, status lines included: a new status line (after a 100
  // Continue or a redirect) starts the header list over, so only the final one's remain.
  static size_t onHeader(char* data, size_t size, size_t count, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    const size_t len = size * count;
    std::string_view line(data, len);
    if (line.starts_with("HTTP/")) {
      t->response.headers.clear();
      return len;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return len;  // blank line, folding
    t->response.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                                     std::string(trim(line.substr(colon + 1))));
    return len;
  }
};

Result<std::unique_ptr<CurlClient>> CurlClient::create(net::EventLoop& loop, Options options) {
  loop.assertInLoopThread();
  RETURN_IF_ERROR(globalInit());
  CURLM* multi = curl_multi_init();
  if (!multi) return internalError("curl_multi_init failed");
  options.max_transfers = std::max<uint32_t>(options.max_transfers, 1);
  options.max_transfers_per_host = std::max<uint32_t>(options.max_transfers_per_host, 1);
  if (options.timeout.count() <= 0) options.timeout = Options().timeout;
  return std::unique_ptr<CurlClient>(new CurlClient(loop, std::move(options), multi));
}

CurlClient::CurlClient(net::EventLoop& loop, Options options, void* multi)
    : loop_(loop), options_(std::move(options)), multi_(multi) {
  curl_timer_ = new CurlTimer;
  uv_timer_init(loop_.uvLoop(), &curl_timer_->timer);
  curl_timer_->timer.data = curl_timer_;
  curl_timer_->client = this;
  defer_timer_ = net::PeriodicTimer::create(loop_, [this] { onDeferred(); });
  queue_timer_ = net::PeriodicTimer::create(loop_, [this] { onQueueTimer(); });
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CallbacksForCurl::onSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CallbacksForCurl::onCurlTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  // Our own caps decide what runs; curl's are set to the same so its connection pool agrees
  // (it never opens more connections to a host than transfers may run there).
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    static_cast<long>(options_.max_transfers));
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS,
                    static_cast<long>(options_.max_transfers_per_host));
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_idle_connections));
}

CurlClient::~CurlClient() {
  liveness_.kill();  // a drainFinished()/onDeferred() up the stack stops after its `done`
  // Every running transfer leaves curl first (this may make curl call onSocket(REMOVE)).
  for (auto& [id, t] : transfers_) {
    if (t->state == Transfer::State::Running) curl_multi_remove_handle(multi_, t->easy);
  }
  // Close our poll handles before curl closes the sockets they watch (libuv: never close an
  // fd an active poll handle watches; uv_close takes it off epoll at once), then tell curl
  // not to call back into this dying object while it tears down its connection cache.
  while (!watches_.empty())
    closeWatch(*watches_.begin());
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, nullptr);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, nullptr);
  curl_multi_cleanup(multi_);
  multi_ = nullptr;
  curl_timer_->client = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&curl_timer_->timer),
           [](uv_handle_t* h) { delete static_cast<CurlTimer*>(h->data); });
  curl_timer_ = nullptr;
  defer_timer_.reset();
  queue_timer_.reset();
  // Then the callbacks, in request order, with nothing of the client left to re-enter.
  std::map<RequestId, std::unique_ptr<Transfer>> transfers;
  transfers.swap(transfers_);
  queue_.clear();
  deferred_.clear();
  for (auto& [id, t] : transfers) {
    Done done = std::move(t->done);
    t.reset();
    done(Status(Code::CANCELLED, "the HTTP client was destroyed"));
  }
}

CurlClient::RequestId CurlClient::request(Request request, Done done) {
  loop_.assertInLoopThread();
  ++stats_.requests;
  auto owned = std::make_unique<Transfer>();
  Transfer& t = *owned;
  t.client = this;
  t.id = ++next_id_;
  t.done = std::move(done);
  t.request = std::move(request);
  const std::chrono::milliseconds timeout =
      t.request.timeout.count() > 0 ? t.request.timeout : options_.timeout;
  t.deadline_ms = loop_.nowMs() + timeout.count();
  transfers_.emplace(t.id, std::move(owned));

  // Validate now (the error still goes out a turn later), and find the host's key.
  Status bad;
  if (!isToken(t.request.method)) bad = invalidArgument("bad method '" + t.request.method + "'");
  for (const Header& h : t.request.headers) {
    if (bad.isOk() && (!isToken(h.first) || !headerValueSafe(h.second))) {
      bad = invalidArgument("header '" + h.first + "' cannot be sent");
    }
  }
  if (bad.isOk()) {
    CURLU* url = curl_url();
    char* scheme = nullptr;
    char* host = nullptr;
    char* port = nullptr;
    if (!url || curl_url_set(url, CURLUPART_URL, t.request.url.c_str(), 0) != CURLUE_OK ||
        curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(url, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
      bad = invalidArgument("URL '" + t.request.url + "' does not parse");
    } else if (!equalsIgnoreCase(scheme, "http") && !equalsIgnoreCase(scheme, "https")) {
      bad = invalidArgument("URL '" + t.request.url + "' is not http:// or https://");
    } else {
      t.host_key = std::string(scheme) + "://" + host + ":" + port;
      std::transform(t.host_key.begin(), t.host_key.end(), t.host_key.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(url);
  }
  if (!bad.isOk()) {
    completeLater(t, std::move(bad));
    return t.id;
  }

  auto& per_host = running_per_host_[t.host_key];
  if (running_ < options_.max_transfers && per_host < options_.max_transfers_per_host) {
    Status started = start(t);
    if (!started.isOk()) completeLater(t, std::move(started));
    return t.id;
  }
  if (queue_.size() >= options_.max_queued) {
    ++stats_.overloaded;
    completeLater(t, Status(Code::OVERLOADED,
                            std::to_string(queue_.size()) + " HTTP requests already waiting"));
    return t.id;
  }
  t.state = Transfer::State::Queued;
  t.queue_pos = queue_.insert(queue_.end(), &t);
  armQueueTimer();
  return t.id;
}

// Makes the easy handle and hands it to the multi. Options that point into `t` (body, error
// buffer, header list) stay valid: `t` outlives the easy handle.
Status CurlClient::start(Transfer& t) {
  const int64_t left = t.deadline_ms - loop_.nowMs();
  if (left <= 0) {
    return Status(Code::TIMEOUT,
                  "deadline passed before a transfer slot to " + t.host_key + " was free");
  }
  t.easy = curl_easy_init();
  if (!t.easy) return internalError("curl_easy_init failed");
  CURL* e = t.easy;
  curl_easy_setopt(e, CURLOPT_URL, t.request.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM-based DNS timeouts in a threaded process
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CallbacksForCurl::onBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &CallbacksForCurl::onHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(left));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(left, options_.connect_timeout.count())));
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_body_bytes));
  curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
  if (!options_.verify_tls) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  const std::string& method = t.request.method;
  const bool send_body =
      !t.request.body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  if (method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (method == "GET" && !send_body) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (method != "POST") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (send_body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t.request.body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.request.body.data());
  }

  bool has_content_type = false;
  for (const Header& h : t.request.headers) {
    has_content_type = has_content_type || equalsIgnoreCase(h.first, "Content-Type");
    t.header_list = curl_slist_append(t.header_list, (h.first + ": " + h.second).c_str());
  }
  // "Name:" removes a header curl would add by itself: no form Content-Type nobody asked
  // for, no 100-continue round trip before large bodies (webhooks rarely answer it).
  if (send_body && !has_content_type) {
    t.header_list = curl_slist_append(t.header_list, "Content-Type:");
  }
  t.header_list = curl_slist_append(t.header_list, "Expect:");
  if (!t.header_list) return internalError("curl_slist_append failed");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.header_list);

  const CURLMcode rc = curl_multi_add_handle(multi_, e);
  if (rc != CURLM_OK) {
    return internalError(std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
  }
  t.state = Transfer::State::Running;
  ++running_;
  ++running_per_host_[t.host_key];
  return Status::ok();
}

// Fills free slots from the FIFO: the first waiting request whose host is under its cap goes
// next. O(queue) when the front requests' hosts are all at their cap.
void CurlClient::startQueued() {
  for (auto it = queue_.begin(); it != queue_.end() && running_ < options_.max_transfers;) {
    Transfer* t = *it;
    auto found = running_per_host_.find(t->host_key);
    if (found != running_per_host_.end() && found->second >= options_.max_transfers_per_host) {
      ++it;
      continue;
    }
    it = queue_.erase(it);
    Status started = start(*t);
    if (!started.isOk()) completeLater(*t, std::move(started));
  }
}

void CurlClient::completeLater(Transfer& t, Status status) {
  if (t.state == Transfer::State::Running) {
    curl_multi_remove_handle(multi_, t.easy);
    --running_;
    --running_per_host_[t.host_key];
  }
  t.state = Transfer::State::Deferred;
  t.early = std::move(status);
  deferred_.push_back(t.id);
  if (!defer_timer_->active()) defer_timer_->start(std::chrono::milliseconds(0), false);
}

void CurlClient::onDeferred() {
  std::vector<RequestId> batch;
  batch.swap(deferred_);
  auto alive = liveness_.token();
  for (RequestId id : batch) {
    auto found = transfers_.find(id);
    if (found == transfers_.end()) continue;  // cancel()led by an earlier `done`
    std::unique_ptr<Transfer> t = take(*found->second);
    ++stats_.failures;
    Done done = std::move(t->done);
    Status status = std::move(t->early);
    t.reset();
    done(std::move(status));
    if (!alive.alive()) return;  // the destructor cancelled the rest of the batch
  }
}

std::unique_ptr<CurlClient::Transfer> CurlClient::take(Transfer& t) {
  auto it = transfers_.find(t.id);
  std::unique_ptr<Transfer> owned = std::move(it->second);
  transfers_.erase(it);
  return owned;
}

void CurlClient::armQueueTimer() {
  if (queue_.empty()) {
    queue_timer_->stop();
    return;
  }
  int64_t first = INT64_MAX;
  for (Transfer* t : queue_)
    first = std::min(first, t->deadline_ms);
  queue_timer_->start(std::chrono::milliseconds(std::max<int64_t>(0, first - loop_.nowMs())),
                      false);
}

void CurlClient::onQueueTimer() {
  const int64_t now = loop_.nowMs();
  for (auto it = queue_.begin(); it != queue_.end();) {
    Transfer* t = *it;
    if (t->deadline_ms > now) {
      ++it;
      continue;
    }
    it = queue_.erase(it);
    completeLater(*t, Status(Code::TIMEOUT, "no transfer slot to " + t->host_key + " within " +
                                                std::to_string(t->request.timeout.count() > 0
                                                                   ? t->request.timeout.count()
                                                                   : options_.timeout.count()) +
                                                " ms"));
  }
  armQueueTimer();
}

void CurlClient::socketAction(int fd, int flags) {
  int running = 0;
  curl_multi_socket_action(multi_, static_cast<curl_socket_t>(fd), flags, &running);
  drainFinished();
}

// One finished transfer at a time: its slot is refilled from the queue, then its `done`
// runs; a `done` that destroys the client leaves the rest to the destructor (CANCELLED).
void CurlClient::drainFinished() {
  auto alive = liveness_.token();
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const CURLcode rc = msg->data.result;  // msg is invalid after remove_handle
    Transfer* raw = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
    curl_multi_remove_handle(multi_, easy);
    --running_;
    --running_per_host_[raw->host_key];
    long connects = 0;
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
    stats_.connections += static_cast<uint64_t>(std::max(0L, connects));

    std::unique_ptr<Transfer> t = take(*raw);
    Result<Response> result = Status(Code::INTERNAL, "unset");
    if (rc == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      t->response.status = static_cast<int>(status);
      result = std::move(t->response);
      ++stats_.responses;
    } else {
      ++stats_.failures;
      if (t->over_limit || rc == CURLE_FILESIZE_EXCEEDED) {
        result = Status(Code::PROTOCOL_ERROR,
                        "response body from " + t->host_key + " over the limit of " +
                            std::to_string(options_.max_body_bytes) + " bytes");
      } else {
        const std::string why = t->error[0] ? t->error : curl_easy_strerror(rc);
        result = Status(codeFor(rc), t->request.method + " " + t->host_key + ": " + why);
      }
    }
    startQueued();
    armQueueTimer();
    Done done = std::move(t->done);
    t.reset();  // frees the easy handle: it goes back before user code runs
    done(std::move(result));
    if (!alive.alive()) return;
  }
  // Housekeeping of the per-host map: drop hosts with nothing running.
  if (running_per_host_.size() > 2 * options_.max_transfers) {
    std::erase_if(running_per_host_, [](const auto& kv) { return kv.second == 0; });
  }
}

bool CurlClient::cancel(RequestId id) {
  loop_.assertInLoopThread();
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return false;
  Transfer& t = *it->second;
  switch (t.state) {
    case Transfer::State::Running:
      curl_multi_remove_handle(multi_, t.easy);
      --running_;
      --running_per_host_[t.host_key];
      break;
    case Transfer::State::Queued:
      queue_.erase(t.queue_pos);
      break;
    case Transfer::State::Deferred:
      break;  // onDeferred() skips ids it no longer finds
  }
  transfers_.erase(it);
  ++stats_.failures;
  startQueued();
  armQueueTimer();
  return true;
}

void CurlClient::closeWatch(SocketWatch* watch) {
  watches_.erase(watch);
  watch->client = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll),
           [](uv_handle_t* h) { delete static_cast<SocketWatch*>(h->data); });
}

}  // namespace push::http
