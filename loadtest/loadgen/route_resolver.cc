#include "loadtest/loadgen/route_resolver.h"

#include <string>

#include "common/base/json_reader.h"
#include "loadtest/loadgen/http_pipeline_client.h"

namespace push::loadgen {
namespace {

constexpr std::chrono::milliseconds kConnectTimeout{10'000};

// `text` for a query string: RFC 3986 unreserved bytes as they are, the rest %XX.
std::string queryEscape(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

Result<net::InetAddress> firstTcpEndpoint(int status, std::string_view body) {
  if (status != 200) {
    return unavailable("dispatcher answered " + std::to_string(status) + ": " +
                       std::string(body.substr(0, 200)));
  }
  JsonReader r(body);
  RETURN_IF_ERROR(r.beginObject());
  std::string key, first;
  bool found = false;
  while (r.nextKey(&key)) {
    if (key != "tcp") {
      RETURN_IF_ERROR(r.skipValue());
      continue;
    }
    RETURN_IF_ERROR(r.beginArray());
    while (r.nextElement()) {
      if (found) {
        RETURN_IF_ERROR(r.skipValue());
      } else {
        RETURN_IF_ERROR(r.readString(&first));
        found = true;
      }
    }
    RETURN_IF_ERROR(r.status());
  }
  RETURN_IF_ERROR(r.finish());
  if (!found) return unavailable("dispatcher answered no tcp endpoint");
  auto address = net::InetAddress::parse(first);
  if (!address.isOk()) {
    return invalidArgument("dispatcher's tcp endpoint '" + first +
                           "': " + address.status().message());
  }
  return *address;
}

RouteResolver::RouteResolver(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)) {}

RouteResolver::~RouteResolver() {
  close();
}

void RouteResolver::start(std::function<void(const Status&)> done) {
  done_ = std::move(done);
  routes_.assign(options_.count, net::InetAddress());
  const std::string host = options_.dispatcher.toString();
  query_ = "GET /v1/route?app=" + queryEscape(options_.app) +
           "&net=" + queryEscape(options_.network) + "&user=" + queryEscape(options_.user_prefix);
  tail_ = " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  if (options_.count == 0) {
    // Nothing to ask; done() still never runs inside start().
    deadline_ = net::PeriodicTimer::create(loop_, [this] { finish(Status::ok()); });
    deadline_->start(std::chrono::milliseconds(0), false);
    return;
  }
  deadline_ = net::PeriodicTimer::create(loop_, [this] {
    finish(Status(Code::TIMEOUT, "no route for " + std::to_string(options_.count - answered_) +
                                     " users within " + std::to_string(options_.timeout.count()) +
                                     " ms"));
  });
  deadline_->start(options_.timeout, false);
  for (size_t i = 0; i < options_.connections; ++i) {
    auto client = std::make_unique<HttpPipelineClient>(
        loop_,
        [this](HttpPipelineClient& c, const HttpPipelineClient::Response& response) {
          if (finished_) return;
          auto address = firstTcpEndpoint(response.status, response.body);
          if (!address.isOk()) {
            return finish(Status(address.status().code(),
                                 "route of user " + options_.user_prefix +
                                     std::to_string(options_.first_user + response.tag) + ": " +
                                     address.status().message()));
          }
          routes_[response.tag] = *address;
          if (++answered_ == options_.count) return finish(Status::ok());
          fill(c);
        },
        [this](HttpPipelineClient&, const Status& why, size_t lost) {
          if (!finished_ && answered_ < options_.count) {
            finish(unavailable("connection to the dispatcher closed (" + why.message() + ")"));
          }
        });
    client->connect(
        options_.dispatcher, options_.source, kConnectTimeout,
        [this](HttpPipelineClient& c, const Status& st) {
          if (finished_) {
            c.close();  // every route came over the other connections: not needed
            return;
          }
          if (!st.isOk()) {
            return finish(unavailable("dispatcher at " + options_.dispatcher.toString() + ": " +
                                      st.message()));
          }
          fill(c);
        });
    clients_.push_back(std::move(client));
  }
}

void RouteResolver::fill(HttpPipelineClient& client) {
  while (next_ < options_.count && client.inflight() < options_.depth) {
    const std::string request = query_ + std::to_string(options_.first_user + next_) + tail_;
    if (!client.send(request, next_)) return;
    ++next_;
  }
}

void RouteResolver::finish(const Status& status) {
  if (finished_) return;
  finished_ = true;
  deadline_.reset();
  for (auto& c : clients_)
    c->close();
  if (done_) {
    auto done = std::move(done_);
    done_ = nullptr;
    done(status);
  }
}

void RouteResolver::close() {
  finished_ = true;
  done_ = nullptr;
  deadline_.reset();
  for (auto& c : clients_)
    c->close();
}

}  // namespace push::loadgen
