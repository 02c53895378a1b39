#include "sdk/http_get.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include "common/base/ascii.h"
#include "common/net/event_loop.h"
#include "common/net/host_resolver.h"
#include "common/net/periodic_timer.h"
#include "common/net/tcp_connector.h"

namespace push::sdk {

namespace {

// Shared by every request's connection (TcpConnection::start wants limits that outlive it;
// the request may be deleted inside onClosed, before its connection is).
const net::TcpConnection::Limits& getLimits() {
  static const net::TcpConnection::Limits limits = [] {
    net::TcpConnection::Limits l;
    l.max_input = 1u << 20;  // the request's own cap is lower: every read is consumed
    return l;
  }();
  return limits;
}

bool parseSize(std::string_view s, int base, size_t* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// De-chunks `in` into `body`. 1: complete; 0: more bytes needed; -1: malformed (a chunk
// larger than `max_chunk` included: no answer that big is taken, and the size must not wrap).
int dechunk(std::string_view in, size_t max_chunk, std::string* body) {
  body->clear();
  size_t pos = 0;
  for (;;) {
    const size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return 0;
    std::string_view line = in.substr(pos, eol - pos);
    line = trimBlanks(line.substr(0, line.find(';')));  // chunk extensions are ignored
    size_t size = 0;
    if (!parseSize(line, 16, &size) || size > max_chunk) return -1;
    pos = eol + 2;
    if (size == 0) {
      // Trailers (ignored) end with an empty line.
      for (;;) {
        const size_t end = in.find("\r\n", pos);
        if (end == std::string_view::npos) return 0;
        if (end == pos) return 1;
        pos = end + 2;
      }
    }
    if (in.size() - pos < size || in.size() - pos - size < 2) return 0;
    body->append(in.substr(pos, size));
    if (in.substr(pos + size, 2) != "\r\n") return -1;
    pos += size + 2;
  }
}

}  // namespace

Result<HttpUrl> HttpUrl::parse(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return invalidArgument("dispatcher: '" + std::string(url.substr(0, 200)) + "': " + why);
  };
  for (char c : url) {
    if (c <= ' ' || c > '~') return bad("only printable ASCII, no spaces");
  }
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() || !equalsIgnoreCase(url.substr(0, kScheme.size()), kScheme)) {
    return bad("expected http://host[:port][/path]");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) return bad("no query or fragment");
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  HttpUrl out;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected ':' after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    const size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
  }
  if (out.host.empty()) return bad("empty host");
  if (!port_text.empty()) {
    size_t port = 0;
    if (!parseSize(port_text, 10, &port) || port < 1 || port > 65535) {
      return bad("port: 1..65535");
    }
    out.port = static_cast<uint16_t>(port);
  }
  out.path = std::string(path);
  out.text = std::string(url);
  return out;
}

std::string urlEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

HttpGet* HttpGet::start(net::EventLoop& loop, const HttpUrl& url, std::string target,
                        std::chrono::milliseconds timeout, size_t max_response_bytes, Done done) {
  auto* get = new HttpGet(loop, url, std::move(target), max_response_bytes, std::move(done));
  get->begin(timeout);
  return get;
}

HttpGet::HttpGet(net::EventLoop& loop, const HttpUrl& url, std::string target, size_t max_bytes,
                 Done done)
    : loop_(loop),
      url_(url),
      target_(std::move(target)),
      max_bytes_(max_bytes),
      done_(std::move(done)) {}

HttpGet::~HttpGet() = default;

void HttpGet::begin(std::chrono::milliseconds timeout) {
  timeout_ = timeout;
  timer_ = net::PeriodicTimer::create(loop_, [this] {
    finish(Status(Code::TIMEOUT,
                  "dispatcher did not answer within " + std::to_string(timeout_.count()) + " ms"));
  });
  timer_->start(timeout, false);
  // A numeric host skips the resolver; either way `done` never runs inside start().
  if (auto numeric = net::InetAddress::fromHostPort(url_.host, url_.port); numeric.isOk()) {
    addresses_ = {*numeric};
    connectTo(0);
    return;
  }
  resolver_ = net::HostResolver::start(loop_, url_.host, url_.port, timeout,
                                       [this](Result<std::vector<net::InetAddress>> r) {
                                         resolver_ = nullptr;
                                         if (decided_) return maybeDelete();
                                         if (!r.isOk()) return finish(r.status());
                                         addresses_ = std::move(*r);
                                         connectTo(0);
                                       });
}

void HttpGet::connectTo(size_t index) {
  connector_ = net::TcpConnector::start(
      loop_, addresses_[index], timeout_, [this, index](Result<net::TcpConnection*> r) {
        connector_ = nullptr;
        if (!r.isOk() && !decided_ && index + 1 < addresses_.size()) return connectTo(index + 1);
        onConnected(std::move(r));
      });
}

void HttpGet::onConnected(Result<net::TcpConnection*> result) {
  if (!result.isOk()) {
    if (decided_) return maybeDelete();
    return finish(result.status());
  }
  net::TcpConnection* conn = *result;
  if (decided_) {  // cancelled or timed out while connecting
    conn->close();
    return maybeDelete();
  }
  conn_ = conn;
  conn->start(this, &getLimits());
  std::string host = url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host;
  if (url_.port != 80) host += ":" + std::to_string(url_.port);
  conn->send("GET " + target_ + " HTTP/1.1\r\nHost: " + host +
             "\r\nAccept: application/json\r\nUser-Agent: push-sdk-cpp/0.1\r\n"
             "Connection: close\r\n\r\n");
}

size_t HttpGet::onData(net::TcpConnection&, const char* data, size_t len) {
  if (decided_) return len;
  if (in_.size() + len > max_bytes_) {
    finish(Status(Code::PROTOCOL_ERROR,
                  "dispatcher answer over " + std::to_string(max_bytes_) + " bytes"));
    return len;
  }
  in_.append(data, len);
  parse(false);
  return len;
}

void HttpGet::onClosed(net::TcpConnection&, net::TcpConnection::CloseReason reason) {
  conn_ = nullptr;
  if (decided_) return maybeDelete();
  // Either way finish() runs, and with the connection gone it deletes this: nothing after.
  if (!parse(true)) {
    finish(
        unavailable(std::string("dispatcher connection closed before the answer was complete (") +
                    net::TcpConnection::reasonName(reason) + ")"));
  }
}

bool HttpGet::parse(bool at_eof) {
  const size_t head_end = in_.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  std::string_view head(in_.data(), head_end);
  const size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  size_t status = 0;
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
      !parseSize(status_line.substr(9, 3), 10, &status) || status < 100 || status > 599) {
    finish(Status(Code::PROTOCOL_ERROR, "dispatcher: not an HTTP/1.x answer"));
    return true;
  }
  bool chunked = false;
  bool has_length = false;
  size_t length = 0;
  std::string_view headers = eol == std::string_view::npos ? "" : head.substr(eol + 2);
  while (!headers.empty()) {
    const size_t end = headers.find("\r\n");
    std::string_view line = headers.substr(0, end);
    headers = end == std::string_view::npos ? "" : headers.substr(end + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = trimBlanks(line.substr(0, colon));
    std::string_view value = trimBlanks(line.substr(colon + 1));
    if (equalsIgnoreCase(name, "content-length")) {
      if (!parseSize(value, 10, &length)) {
        finish(Status(Code::PROTOCOL_ERROR, "dispatcher: bad Content-Length"));
        return true;
      }
      has_length = true;
    } else if (equalsIgnoreCase(name, "transfer-encoding")) {
      chunked = value.size() >= 7 && equalsIgnoreCase(value.substr(value.size() - 7), "chunked");
    }
  }
  std::string_view rest(in_.data() + head_end + 4, in_.size() - head_end - 4);
  Response response;
  response.status = static_cast<int>(status);
  if (status < 200 || status == 204 || status == 304) {
    if (status < 200) {  // 1xx: an interim answer; the real one follows it
      in_.erase(0, head_end + 4);
      return parse(at_eof);
    }
  } else if (chunked) {
    const int r = dechunk(rest, max_bytes_, &response.body);
    if (r < 0) {
      finish(Status(Code::PROTOCOL_ERROR, "dispatcher: malformed chunked body"));
      return true;
    }
    if (r == 0) return false;
  } else if (has_length) {
    if (rest.size() < length) return false;
    response.body = std::string(rest.substr(0, length));
  } else {
    if (!at_eof) return false;  // the body ends when the server closes
    response.body = std::string(rest);
  }
  finish(std::move(response));
  return true;
}

void HttpGet::cancel() {
  finish(Status(Code::CANCELLED, "dispatcher request cancelled"));
}

void HttpGet::finish(Result<Response> result) {
  if (decided_) return;
  decided_ = true;
  timer_.reset();
  if (resolver_) resolver_->cancel();    // its callback comes later and finds decided_
  if (connector_) connector_->cancel();  // likewise
  if (conn_) conn_->close();             // onClosed comes later
  Done done = std::move(done_);
  done(std::move(result));
  maybeDelete();
}

void HttpGet::maybeDelete() {
  if (decided_ && !resolver_ && !connector_ && !conn_) delete this;
}

}  // namespace push::sdk
