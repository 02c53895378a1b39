// Shared by the HttpServer tests (http_server_*_test.cc): the HttpServerTest fixture, a real
// server with a few routes on a loop driven by the test thread.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/net/event_loop.h"
#include "tests/unit/http/test_client.h"

// Not in an anonymous namespace: gtest requires one fixture class for all the tests of a suite,
// and the HttpServerTest tests live in several files.
namespace push::http::testing {

// Every test: a real server on 127.0.0.1:0 on a loop driven by this thread, real sockets from
// a client thread, and at the end the server closed and the loop shut down with every handle
// closed (uv_loop_close() == 0).
class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(router_
                    .add("GET", "/hello",
                         [](HttpRequest&, HttpResponder r) { r.respond(200, "hello world"); })
                    .isOk());
    ASSERT_TRUE(router_
                    .add("GET", "/echo",
                         [](HttpRequest& req, HttpResponder r) {
                           r.respond(200, std::string(req.query("n").value_or("")));
                         })
                    .isOk());
    ASSERT_TRUE(router_
                    .add("POST", "/echo",
                         [](HttpRequest& req, HttpResponder r) { r.respond(200, req.body()); })
                    .isOk());
    // Async: the responder waits in pending_ until the test answers it.
    ASSERT_TRUE(
        router_
            .add("GET", "/slow",
                 [this](HttpRequest&, HttpResponder r) { pending_.push_back(std::move(r)); })
            .isOk());
  }

  void TearDown() override {
    server_.reset();   // closes every connection; deletes itself later
    pending_.clear();  // answering after close is a harmless no-op
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  void start(HttpServer::Options options = {}) {
    Result<HttpServerPtr> server =
        HttpServer::listen(loop_, options, std::move(router_), std::move(chain_));
    ASSERT_TRUE(server.isOk()) << server.status();
    server_ = std::move(server).value();
    port_ = server_->address().port();
    ASSERT_NE(port_, 0);
  }

  // One request on a fresh connection, one response back.
  std::optional<ParsedResponse> roundTrip(std::string request) {
    std::optional<ParsedResponse> resp;
    ClientThread client(loop_, [&] {
      BlockingClient c(port_);
      c.send(request);
      resp = c.readResponse();
    });
    EXPECT_TRUE(client.wait());
    return resp;
  }

  net::EventLoop loop_;
  Router router_;
  MiddlewareChain chain_;
  HttpServerPtr server_;
  uint16_t port_ = 0;
  std::vector<HttpResponder> pending_;
};

}  // namespace push::http::testing
