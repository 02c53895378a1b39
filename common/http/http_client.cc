#include "common/http/http_client.h"

#include <llhttp.h>
#include <strings.h>

#include <algorithm>
#include <charconv>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/host_resolver.h"
#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_connector.h"

namespace push::http {

namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool lineSafe(std::string_view s) {
  return s.find_first_of(std::string_view(" \r\n\0", 4)) == std::string_view::npos;
}

bool headerSafe(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

Result<Url> Url::parse(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() || !equalsIgnoreCase(url.substr(0, kScheme.size()), kScheme)) {
    return invalidArgument("URL '" + std::string(url) + "' does not start with http://");
  }
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return invalidArgument("URL '" + std::string(url) + "' has user info (not supported)");
  }
  Url out;
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalidArgument("URL has an unclosed '['");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalidArgument("URL has junk after ']'");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty() || !lineSafe(host)) {
    return invalidArgument("URL '" + std::string(url) + "' has no usable host");
  }
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return invalidArgument("URL '" + std::string(url) + "' has a bad port");
    }
    out.port = static_cast<uint16_t>(value);
  }
  if (!lineSafe(target)) return invalidArgument("URL target holds a space, CR, LF or NUL");
  out.host = std::string(host);
  out.target = target.front() == '?' ? "/" + std::string(target) : std::string(target);
  return out;
}

std::optional<std::string_view> ClientResponse::header(std::string_view name) const {
  for (const Header& h : headers) {
    if (equalsIgnoreCase(h.first, name)) return std::string_view(h.second);
  }
  return std::nullopt;
}

// One request: resolve -> connect -> write -> parse, under one deadline timer. Deletes itself
// once `done` has run and every handle it started (resolver, connector, connection) came back.
class HttpClient::Request final : private net::TcpConnection::Handler {
 public:
  Request(HttpClient* client, Done done)
      : client_(client), loop_(client->loop_), options_(client->options_), done_(std::move(done)) {
    limits_.max_input = static_cast<uint32_t>(std::min<size_t>(
        options_.max_body_bytes + options_.max_header_bytes + (64u << 10), UINT32_MAX / 2));
    llhttp_init(&parser_, HTTP_RESPONSE, &settings());
    parser_.data = this;
  }

  void start(Result<Url> url, std::string method, std::string body, const Headers& headers) {
    timer_ = net::PeriodicTimer::create(loop_, [this] { onTimer(); });
    deadline_ms_ = loop_.nowMs() + options_.timeout.count();
    if (!url.isOk()) {
      early_ = url.status();
      timer_->start(std::chrono::milliseconds(0), false);  // done runs on a later turn
      return;
    }
    for (const auto& [name, value] : headers) {
      if (name.empty() || !lineSafe(name) || name.find(':') != std::string::npos ||
          !headerSafe(value)) {
        early_ = invalidArgument("header '" + name + "' cannot be sent");
        timer_->start(std::chrono::milliseconds(0), false);
        return;
      }
    }
    if (!lineSafe(method) || method.empty()) {
      early_ = invalidArgument("bad method '" + method + "'");
      timer_->start(std::chrono::milliseconds(0), false);
      return;
    }
    timer_->start(options_.timeout, false);
    bytes_ = method + " " + url->target + " HTTP/1.1\r\nHost: ";
    const bool v6 = url->host.find(':') != std::string::npos;
    bytes_ += v6 ? "[" + url->host + "]" : url->host;
    if (url->port != 80) bytes_ += ":" + std::to_string(url->port);
    bytes_ += "\r\nUser-Agent: " + options_.user_agent + "\r\nAccept: */*\r\nConnection: close\r\n";
    for (const auto& [name, value] : headers)
      bytes_ += name + ": " + value + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT") {
      bytes_ += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    bytes_ += "\r\n";
    bytes_ += body;
    host_ = url->host;
    Result<net::InetAddress> numeric = net::InetAddress::fromHostPort(url->host, url->port);
    if (numeric.isOk()) {
      connect(*numeric);
      return;
    }
    resolver_ = net::HostResolver::start(
        loop_, url->host, url->port, options_.timeout,
        [this](Result<std::vector<net::InetAddress>> addrs) {
          resolver_ = nullptr;
          if (finished_) return maybeDelete();
          if (!addrs.isOk()) {
            return finish(
                Status(addrs.status().code() == Code::TIMEOUT ? Code::TIMEOUT : Code::UNAVAILABLE,
                       "resolving " + host_ + ": " + addrs.status().message()));
          }
          connect(addrs->front());
        });
  }

  // The client is going away: CANCELLED now; handles are closed and the object frees itself.
  void cancel() { finish(Status(Code::CANCELLED, "the HTTP client was destroyed")); }
  void detach() { client_ = nullptr; }

 private:
  void connect(const net::InetAddress& addr) {
    const int64_t left = std::max<int64_t>(1, deadline_ms_ - loop_.nowMs());
    peer_ = addr.toString();
    connector_ = net::TcpConnector::start(
        loop_, addr, std::chrono::milliseconds(left), [this](Result<net::TcpConnection*> r) {
          connector_ = nullptr;
          if (finished_) {
            if (r.isOk()) (*r)->close();  // never started: no handler, frees itself
            return maybeDelete();
          }
          if (!r.isOk()) {
            return finish(
                Status(r.status().code(), "connecting to " + peer_ + ": " + r.status().message()));
          }
          conn_ = *r;
          conn_->start(this, &limits_);
          conn_->send(bytes_);
          std::string().swap(bytes_);
        });
  }

  void onTimer() {
    if (finished_) return;
    if (!early_.isOk()) return finish(early_);
    finish(Status(Code::TIMEOUT, "no complete response from " + (peer_.empty() ? host_ : peer_) +
                                     " within " + std::to_string(options_.timeout.count()) +
                                     " ms"));
  }

  // Runs `done` once and releases every handle; the object goes when they have come back.
  void finish(Result<ClientResponse> result) {
    if (finished_) return;
    finished_ = true;
    timer_.reset();
    if (resolver_) resolver_->cancel();
    if (connector_) connector_->cancel();
    if (conn_) conn_->close();
    if (client_) client_->forget(this);
    client_ = nullptr;
    Done done = std::move(done_);
    done(std::move(result));  // may destroy the client: nothing of it is used after
    maybeDelete();
  }

  void maybeDelete() {
    if (finished_ && !resolver_ && !connector_ && !conn_) delete this;
  }

  // ---- net::TcpConnection::Handler ----
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override {
    if (finished_) return len;
    const llhttp_errno_t err = llhttp_execute(&parser_, data, len);
    if (err == HPE_PAUSED) {  // on_message_complete of the final response
      finish(std::move(response_));
      return len;
    }
    if (err != HPE_OK) {
      finish(Status(Code::PROTOCOL_ERROR,
                    "bad HTTP response from " + peer_ + ": " +
                        (error_.empty() ? llhttp_get_error_reason(&parser_) : error_)));
    }
    return len;
  }

  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override {
    conn_ = nullptr;
    if (finished_) return maybeDelete();
    // A response without a length ends with the connection: llhttp_finish() completes it.
    if (reason == net::TcpConnection::CloseReason::PeerClosed && completeAtEof()) {
      return finish(std::move(response_));
    }
    finish(unavailable("connection to " + peer_ + " closed (" +
                       net::TcpConnection::reasonName(reason) +
                       ") before the response was complete"));  // may delete this
  }

  // llhttp_finish() ends a body delimited by the connection's end (its on_message_complete
  // pauses, as in onData).
  bool completeAtEof() {
    const llhttp_errno_t err = llhttp_finish(&parser_);
    return (err == HPE_OK || err == HPE_PAUSED) && complete_;
  }

  // ---- llhttp callbacks ----
  static Request& self(llhttp_t* p) { return *static_cast<Request*>(p->data); }

  static const llhttp_settings_t& settings() {
    static const llhttp_settings_t kSettings = [] {
      llhttp_settings_t s;
      llhttp_settings_init(&s);
      s.on_message_begin = [](llhttp_t* p) {
        Request& r = self(p);
        r.response_ = ClientResponse();
        r.field_.clear();
        r.value_.clear();
        r.header_bytes_ = 0;
        return 0;
      };
      s.on_status = [](llhttp_t* p, const char*, size_t len) {
        return self(p).addHeaderBytes(len) ? 0 : -1;
      };
      s.on_header_field = [](llhttp_t* p, const char* at, size_t len) {
        Request& r = self(p);
        if (!r.addHeaderBytes(len + 4)) return -1;
        r.field_.append(at, len);
        return 0;
      };
      s.on_header_value = [](llhttp_t* p, const char* at, size_t len) {
        Request& r = self(p);
        if (!r.addHeaderBytes(len)) return -1;
        r.value_.append(at, len);
        return 0;
      };
      s.on_header_value_complete = [](llhttp_t* p) {
        Request& r = self(p);
        r.response_.headers.emplace_back(std::move(r.field_), std::move(r.value_));
        r.field_.clear();
        r.value_.clear();
        return 0;
      };
      s.on_headers_complete = [](llhttp_t* p) {
        Request& r = self(p);
        r.response_.status = p->status_code;
        if (p->content_length > r.options_.max_body_bytes &&
            p->content_length != UINT64_MAX) {  // UINT64_MAX: no Content-Length header
          r.error_ = "body of " + std::to_string(p->content_length) + " bytes over the limit " +
                     std::to_string(r.options_.max_body_bytes);
          return -1;
        }
        return 0;
      };
      s.on_body = [](llhttp_t* p, const char* at, size_t len) {
        Request& r = self(p);
        if (r.response_.body.size() + len > r.options_.max_body_bytes) {
          r.error_ =
              "body over the limit of " + std::to_string(r.options_.max_body_bytes) + " bytes";
          return -1;
        }
        r.response_.body.append(at, len);
        return 0;
      };
      s.on_message_complete = [](llhttp_t* p) {
        Request& r = self(p);
        if (r.response_.status >= 100 && r.response_.status < 200) return 0;  // 1xx: go on
        r.complete_ = true;
        return static_cast<int>(HPE_PAUSED);
      };
      return s;
    }();
    return kSettings;
  }

  bool addHeaderBytes(size_t len) {
    header_bytes_ += len;
    if (header_bytes_ <= options_.max_header_bytes) return true;
    error_ = "headers over the limit of " + std::to_string(options_.max_header_bytes) + " bytes";
    return false;
  }

  HttpClient* client_;
  net::EventLoop& loop_;
  const Options options_;  // a copy: the request may outlive the client
  Done done_;
  net::TcpConnection::Limits limits_;
  net::PeriodicTimerPtr timer_;
  net::HostResolver* resolver_ = nullptr;
  net::TcpConnector* connector_ = nullptr;
  net::TcpConnection* conn_ = nullptr;
  int64_t deadline_ms_ = 0;
  Status early_;  // a request that cannot start reports this from the timer
  std::string host_;
  std::string peer_;
  std::string bytes_;  // the request on the wire, until sent
  llhttp_t parser_;
  ClientResponse response_;
  std::string field_;
  std::string value_;
  std::string error_;  // a limit a callback hit (llhttp only knows "user callback error")
  size_t header_bytes_ = 0;
  bool complete_ = false;
  bool finished_ = false;
};

HttpClient::HttpClient(net::EventLoop& loop) : HttpClient(loop, Options()) {}

HttpClient::HttpClient(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)) {
  if (options_.timeout.count() <= 0) options_.timeout = Options().timeout;
}

HttpClient::~HttpClient() {
  std::vector<Request*> requests;
  requests.swap(requests_);
  for (Request* r : requests)
    r->detach();
  for (Request* r : requests)
    r->cancel();
}

void HttpClient::forget(Request* request) {
  auto it = std::find(requests_.begin(), requests_.end(), request);
  if (it != requests_.end()) requests_.erase(it);
}

void HttpClient::get(std::string_view url, Done done, Headers headers) {
  request("GET", url, std::string(), std::move(headers), std::move(done));
}

void HttpClient::post(std::string_view url, std::string body, std::string content_type, Done done,
                      Headers headers) {
  if (!content_type.empty()) headers.emplace_back("Content-Type", std::move(content_type));
  request("POST", url, std::move(body), std::move(headers), std::move(done));
}

void HttpClient::request(std::string_view method, std::string_view url, std::string body,
                         Headers headers, Done done) {
  loop_.assertInLoopThread();
  auto* r = new Request(this, std::move(done));
  requests_.push_back(r);
  r->start(Url::parse(url), std::string(method), std::move(body), headers);
}

}  // namespace push::http
