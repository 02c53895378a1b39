#include "common/http/retrying_poster.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http/http_server.h"
#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_server.h"

namespace push::http {
namespace {

using namespace std::chrono_literals;
using Outcome = RetryingPoster::Outcome;

class RetryingPosterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // 503 for the first `fail_first_` calls, then 200 with the body echoed.
    add("POST", "/flaky", [this](HttpRequest& req, HttpResponder r) {
      ++flaky_calls_;
      if (flaky_calls_ <= fail_first_) return r.respond(503, "busy");
      r.respond(200, "ok:" + req.body());
    });
    add("POST", "/bad", [this](HttpRequest&, HttpResponder r) {
      ++bad_calls_;
      r.respond(400, "no");
    });
    add("POST", "/down", [this](HttpRequest&, HttpResponder r) {
      ++down_calls_;
      r.respond(503, "down");
    });
    add("POST", "/limited", [this](HttpRequest&, HttpResponder r) {
      ++limited_calls_;
      if (limited_calls_ > 1) return r.respond(200, "ok");
      HttpResponse resp = HttpResponse::text(429, "slow down");
      resp.setHeader("Retry-After", "1");
      r.respond(std::move(resp));
    });
    auto server = HttpServer::listen(loop_, {}, std::move(router_));
    ASSERT_TRUE(server.isOk()) << server.status();
    server_ = std::move(server).value();
    base_ = "http://127.0.0.1:" + std::to_string(server_->address().port());
    auto client = CurlClient::create(loop_, {});
    ASSERT_TRUE(client.isOk()) << client.status();
    client_ = std::move(client).value();
  }

  void TearDown() override {
    client_.reset();
    server_.reset();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  void add(const char* method, const char* path, HttpHandler handler) {
    ASSERT_TRUE(router_.add(method, path, std::move(handler)).isOk());
  }

  // Posts once and runs the loop until the outcome; checks `done` ran once, not inside post().
  Outcome run(RetryingPoster& poster, const std::string& path, std::chrono::milliseconds bound) {
    std::optional<Outcome> outcome;
    int calls = 0;
    poster.post(base_ + path, "payload", {{"Content-Type", "text/plain"}}, [&](Outcome o) {
      ++calls;
      outcome.emplace(std::move(o));
    });
    EXPECT_FALSE(outcome.has_value()) << "done ran inside post()";
    EXPECT_TRUE(loop_.runUntil([&] { return outcome.has_value(); }, bound));
    loop_.runUntil([] { return false; }, 20ms);
    EXPECT_EQ(calls, 1);
    if (!outcome) return Outcome{Status(Code::INTERNAL, "no outcome"), 0, 0ms};
    return std::move(*outcome);
  }

  net::EventLoop loop_;
  Router router_;
  HttpServerPtr server_;
  std::string base_;
  std::unique_ptr<CurlClient> client_;
  int fail_first_ = 2;
  int flaky_calls_ = 0;
  int bad_calls_ = 0;
  int down_calls_ = 0;
  int limited_calls_ = 0;
};

TEST_F(RetryingPosterTest, TwoFailuresThenSuccessTakesThreeAttempts) {
  RetryingPoster poster(loop_, *client_, {.min_backoff = 20ms, .max_backoff = 100ms});
  Outcome o = run(poster, "/flaky", 10s);
  ASSERT_TRUE(o.result.isOk()) << o.result.status();
  EXPECT_EQ(o.result->status, 200);
  EXPECT_EQ(o.result->body, "ok:payload");
  EXPECT_EQ(o.attempts, 3u);
  EXPECT_EQ(flaky_calls_, 3);
  // Two delays of 20 ms and 40 ms, each +-20%.
  EXPECT_GE(o.elapsed, 45ms);
  EXPECT_EQ(poster.pending(), 0u);
}

TEST_F(RetryingPosterTest, ClientErrorIsNotRetried) {
  RetryingPoster poster(loop_, *client_, {.min_backoff = 10ms});
  Outcome o = run(poster, "/bad", 10s);
  ASSERT_TRUE(o.result.isOk()) << o.result.status();
  EXPECT_EQ(o.result->status, 400);
  EXPECT_EQ(o.attempts, 1u);
  EXPECT_EQ(bad_calls_, 1);
}

TEST_F(RetryingPosterTest, AttemptsStopAtTheMaximum) {
  RetryingPoster poster(loop_, *client_,
                        {.max_attempts = 4, .min_backoff = 5ms, .max_backoff = 10ms});
  Outcome o = run(poster, "/down", 10s);
  ASSERT_TRUE(o.result.isOk()) << o.result.status();
  EXPECT_EQ(o.result->status, 503);  // the last attempt's response
  EXPECT_EQ(o.attempts, 4u);
  EXPECT_EQ(down_calls_, 4);
}

TEST_F(RetryingPosterTest, DeadlineBoundsTheTotalTime) {
  RetryingPoster poster(
      loop_, *client_,
      {.max_attempts = 1000, .min_backoff = 50ms, .max_backoff = 100ms, .deadline = 600ms});
  const auto start = std::chrono::steady_clock::now();
  Outcome o = run(poster, "/down", 10s);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(o.result.isOk()) << o.result.status();
  EXPECT_EQ(o.result->status, 503);
  EXPECT_GT(o.attempts, 2u);
  EXPECT_LT(o.attempts, 20u);
  EXPECT_LE(o.elapsed, 1100ms);  // the last attempt starts before the deadline (+ timer slack)
  EXPECT_LT(took, 1500ms);
}

TEST_F(RetryingPosterTest, UnavailableIsRetried) {
  uint16_t port = 0;
  {
    auto probe = net::TcpServer::listen(loop_, {}, [](net::TcpConnection&) {});
    ASSERT_TRUE(probe.isOk());
    port = (*probe)->address().port();
  }
  loop_.runUntil([] { return false; }, 10ms);
  RetryingPoster poster(loop_, *client_,
                        {.max_attempts = 3, .min_backoff = 5ms, .max_backoff = 10ms});
  std::optional<Outcome> outcome;
  poster.post("http://127.0.0.1:" + std::to_string(port) + "/", "x", {},
              [&](Outcome o) { outcome.emplace(std::move(o)); });
  EXPECT_TRUE(loop_.runUntil([&] { return outcome.has_value(); }, 10s));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->result.status().code(), Code::UNAVAILABLE) << outcome->result.status();
  EXPECT_EQ(outcome->attempts, 3u);
}

TEST_F(RetryingPosterTest, RetryAfterIsHonouredUpToMaxBackoff) {
  RetryingPoster poster(loop_, *client_, {.min_backoff = 10ms, .max_backoff = 300ms});
  Outcome o = run(poster, "/limited", 10s);
  ASSERT_TRUE(o.result.isOk()) << o.result.status();
  EXPECT_EQ(o.result->status, 200);
  EXPECT_EQ(o.attempts, 2u);
  EXPECT_GE(o.elapsed, 290ms);  // "Retry-After: 1" capped at max_backoff
}

TEST_F(RetryingPosterTest, DestructionCancelsWaitingAndInFlightCalls) {
  auto poster = std::make_unique<RetryingPoster>(
      loop_, *client_, RetryingPoster::Policy{.min_backoff = 5s, .max_backoff = 5s});
  std::vector<Outcome> outcomes;
  poster->post(base_ + "/down", "x", {}, [&](Outcome o) { outcomes.push_back(std::move(o)); });
  EXPECT_TRUE(loop_.runUntil([&] { return down_calls_ == 1; }, 5s));
  loop_.runUntil([] { return false; }, 20ms);  // its answer came: it waits 5 s to retry
  poster->post(base_ + "/flaky", "y", {}, [&](Outcome o) { outcomes.push_back(std::move(o)); });
  EXPECT_TRUE(outcomes.empty());
  poster.reset();
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0].result.status().code(), Code::CANCELLED);
  EXPECT_EQ(outcomes[0].attempts, 1u);
  EXPECT_EQ(outcomes[1].result.status().code(), Code::CANCELLED);
  EXPECT_EQ(client_->pending(), 0u);  // the in-flight attempt left the client too
  loop_.runUntil([] { return false; }, 50ms);
  EXPECT_EQ(outcomes.size(), 2u);
}

}  // namespace
}  // namespace push::http
