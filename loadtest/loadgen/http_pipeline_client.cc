#include "loadtest/loadgen/http_pipeline_client.h"

#include <cctype>
#include <charconv>
#include <string>

#include "common/base/ascii.h"
#include "common/net/event_loop.h"
#include "common/net/tcp_connector.h"

namespace push::loadgen {
namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxBodyBytes = 16u << 20;

struct Head {
  int status = 0;
  size_t content_length = 0;
  bool has_length = false;
  bool close = false;
};

// Parses "HTTP/1.x NNN reason\r\n" + header lines (without the final empty line).
bool parseHead(std::string_view head, Head* out) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return false;
  if (std::from_chars(line.data() + 9, line.data() + 12, out->status).ec != std::errc())
    return false;
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trimBlanks(line.substr(colon + 1));
    if (equalsIgnoreCase(name, "Content-Length")) {
      auto r = std::from_chars(value.data(), value.data() + value.size(), out->content_length);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size()) return false;
      out->has_length = true;
    } else if (equalsIgnoreCase(name, "Transfer-Encoding")) {
      return false;  // chunked bodies are not supported (center does not send them)
    } else if (equalsIgnoreCase(name, "Connection") && equalsIgnoreCase(value, "close")) {
      out->close = true;
    }
  }
  return true;
}

}  // namespace

HttpPipelineClient::HttpPipelineClient(net::EventLoop& loop, OnResponse on_response,
                                       OnClosed on_closed)
    : loop_(loop), on_response_(std::move(on_response)), on_closed_(std::move(on_closed)) {
  limits_.retain_output = 64 * 1024;  // busy connection: keep the output buffer
  limits_.max_input = kMaxHeaderBytes + kMaxBodyBytes;
}

HttpPipelineClient::~HttpPipelineClient() = default;

void HttpPipelineClient::connect(const net::InetAddress& server, const net::InetAddress* local,
                                 std::chrono::milliseconds timeout, OnConnected done) {
  net::TcpConnector::start(
      loop_, server, timeout,
      [this, done = std::move(done)](Result<net::TcpConnection*> result) {
        if (!result.isOk()) return done(*this, result.status());
        conn_ = *result;
        conn_->start(this, &limits_);
        done(*this, Status::ok());
      },
      local);
}

bool HttpPipelineClient::send(std::string_view request, uint64_t tag) {
  if (!connected() || !conn_->send(request)) return false;
  tags_.push_back(tag);
  return true;
}

void HttpPipelineClient::close() {
  if (conn_) failConnection(Status(Code::CANCELLED, "closed by the load generator"));
}

void HttpPipelineClient::failConnection(Status why) {
  if (close_reason_.isOk()) close_reason_ = std::move(why);
  if (conn_) conn_->close();
}

size_t HttpPipelineClient::onData(net::TcpConnection& conn, const char* data, size_t len) {
  const std::string_view in(data, len);
  size_t used = 0;
  while (used < len && !conn.closing()) {
    const size_t end = in.find("\r\n\r\n", used);
    if (end == std::string_view::npos) {
      if (len - used > kMaxHeaderBytes) failConnection(internalError("response head too large"));
      break;
    }
    Head head;
    if (!parseHead(in.substr(used, end - used), &head) ||
        (!head.has_length && head.status >= 200 && head.status != 204 && head.status != 304)) {
      failConnection(internalError("malformed response (or one without Content-Length)"));
      break;
    }
    if (head.content_length > kMaxBodyBytes) {
      failConnection(internalError("response body too large"));
      break;
    }
    const size_t body_at = end + 4;
    if (len - body_at < head.content_length) break;  // wait for the rest of the body
    used = body_at + head.content_length;
    if (tags_.empty()) {
      failConnection(internalError("response without a request"));
      break;
    }
    Response r;
    r.status = head.status;
    r.body = in.substr(body_at, head.content_length);
    r.tag = tags_.front();
    tags_.pop_front();
    on_response_(*this, r);
    if (head.close) {
      failConnection(unavailable("server sent Connection: close"));
      break;
    }
  }
  return conn.closing() ? len : used;
}

void HttpPipelineClient::onClosed(net::TcpConnection& conn,
                                  net::TcpConnection::CloseReason reason) {
  conn_ = nullptr;
  const size_t lost = tags_.size();
  tags_.clear();
  Status why =
      close_reason_.isOk()
          ? unavailable(std::string("connection closed: ") + net::TcpConnection::reasonName(reason))
          : close_reason_;
  on_closed_(*this, why, lost);
}

}  // namespace push::loadgen
