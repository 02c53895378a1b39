#pragma once

// A test stand-in for an app's server: an http::HttpServer on the test's loop (127.0.0.1, a
// free port) with one behaviour per path, recording every request it got.
//   /ok      200, body "reply-to:<X-Push-Request-Id>"
//   /bad     400 "bad payload"
//   /down    503 "down"
//   /slow    held (no answer) until releaseSlow(), then 200 "late"
//   /events  200, records the batch (each request body is one JSON array)

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/http/http_server.h"
#include "common/http/router.h"
#include "common/net/event_loop.h"

namespace push::coord::testing {

class TestWebhook {
 public:
  struct Request {
    std::string path;
    std::string body;
    std::string request_id;
    std::string app;
  };

  explicit TestWebhook(net::EventLoop& loop) {
    http::Router router;
    add(router, "/ok", [this](http::HttpRequest& req, http::HttpResponder r) {
      record(req);
      r.respond(200, "reply-to:" + std::string(req.header("X-Push-Request-Id").value_or("")));
    });
    add(router, "/bad", [this](http::HttpRequest& req, http::HttpResponder r) {
      record(req);
      r.respond(400, "bad payload");
    });
    add(router, "/down", [this](http::HttpRequest& req, http::HttpResponder r) {
      record(req);
      r.respond(503, "down");
    });
    add(router, "/slow", [this](http::HttpRequest& req, http::HttpResponder r) {
      record(req);
      held_.push_back(std::make_unique<http::HttpResponder>(std::move(r)));
    });
    add(router, "/events", [this](http::HttpRequest& req, http::HttpResponder r) {
      record(req);
      r.respond(200, "ok");
    });
    auto server = http::HttpServer::listen(loop, {}, std::move(router));
    EXPECT_TRUE(server.isOk()) << server.status();
    if (server.isOk()) server_ = std::move(server).value();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->address().port()) + path;
  }
  size_t count(const std::string& path) const {
    size_t n = 0;
    for (const Request& r : requests_)
      n += r.path == path;
    return n;
  }
  const std::vector<Request>& requests() const { return requests_; }
  size_t held() const { return held_.size(); }
  void releaseSlow() {
    for (auto& r : held_)
      r->respond(200, "late");
    held_.clear();
  }
  // Closes the server (answers nothing more; connections are dropped).
  void close() {
    held_.clear();
    server_.reset();
  }

 private:
  static void add(http::Router& router, const char* path, http::HttpHandler handler) {
    EXPECT_TRUE(router.add("POST", path, std::move(handler)).isOk());
  }
  void record(http::HttpRequest& req) {
    requests_.push_back(Request{req.path(), req.body(),
                                std::string(req.header("X-Push-Request-Id").value_or("")),
                                std::string(req.header("X-Push-App").value_or(""))});
  }

  std::vector<Request> requests_;
  std::vector<std::unique_ptr<http::HttpResponder>> held_;
  http::HttpServerPtr server_;
};

}  // namespace push::coord::testing
