// RedisClient (common/redis) against a real redis-server started per test on a free port.

#include "common/redis/redis_client.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "common/net/event_loop.h"
#include "tests/support/nsq_daemon.h"
#include "tests/support/redis_server.h"

namespace push::redis {
namespace {

using namespace std::chrono_literals;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::RedisServer::binary().empty()) GTEST_SKIP() << "redis-server not found";
    auto started = testing::RedisServer::start();
    ASSERT_TRUE(started.isOk()) << started.status();
    server_ = std::move(started).value();
  }
  void TearDown() override {
    client_.reset();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  RedisClient& client(RedisClient::Options o = {}) {
    if (!client_) {
      auto c = RedisClient::create(loop_, server_->address(), o);
      EXPECT_TRUE(c.isOk()) << c.status();
      client_ = std::move(c).value();
    }
    return *client_;
  }

  // Runs one command to completion.
  Result<Reply> run(std::vector<std::string> args) {
    std::optional<Result<Reply>> out;
    client().command(std::move(args), [&](Result<Reply> r) { out = std::move(r); });
    EXPECT_TRUE(loop_.runUntil([&] { return out.has_value(); }, 10s));
    if (!out) return Status(Code::TIMEOUT, "test: no answer");
    return std::move(*out);
  }

  net::EventLoop loop_;
  std::unique_ptr<testing::RedisServer> server_;
  std::unique_ptr<RedisClient> client_;
};

TEST(RedisClientEncodeTest, CommandsAreRespArraysOfBulkStrings) {
  EXPECT_EQ(RedisClient::encode({"SET", "k", "a b\r\n"}),
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na b\r\n\r\n");
  EXPECT_EQ(RedisClient::encode({"PING"}), "*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(RedisClient::encode({"SET", "k", ""}), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

TEST_F(RedisClientTest, RepliesOfEveryType) {
  auto pong = run({"PING"});
  ASSERT_TRUE(pong.isOk()) << pong.status();
  EXPECT_EQ(pong->type, Reply::Type::Status);
  EXPECT_EQ(pong->str, "PONG");
  std::string binary("a\0b\r\nc", 6);
  ASSERT_TRUE(run({"SET", "k", binary}).isOk());
  auto got = run({"GET", "k"});
  ASSERT_TRUE(got.isOk());
  EXPECT_EQ(got->type, Reply::Type::String);
  EXPECT_EQ(got->str, binary);
  auto nil = run({"GET", "missing"});
  ASSERT_TRUE(nil.isOk());
  EXPECT_TRUE(nil->isNil());
  auto n = run({"INCRBY", "n", "41"});
  ASSERT_TRUE(n.isOk());
  EXPECT_EQ(n->integer, 41);
  ASSERT_TRUE(run({"RPUSH", "l", "x", "y"}).isOk());
  auto list = run({"LRANGE", "l", "0", "-1"});
  ASSERT_TRUE(list.isOk());
  ASSERT_EQ(list->type, Reply::Type::Array);
  ASSERT_EQ(list->elements.size(), 2u);
  EXPECT_EQ(list->elements[1].str, "y");
  // A Lua script returning a table with an error inside: the error is an element.
  auto lua = run({"EVAL", "return {1, redis.error_reply('nested')}", "0"});
  ASSERT_TRUE(lua.isOk()) << lua.status();
  ASSERT_EQ(lua->elements.size(), 2u);
  EXPECT_EQ(lua->elements[1].type, Reply::Type::Error);
}

TEST_F(RedisClientTest, ErrorReplyIsAStatusAndTheConnectionStaysUp) {
  auto bad = run({"INCR", "k", "extra"});
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), Code::FAILED_PRECONDITION);
  EXPECT_NE(bad.status().message().find("wrong number of arguments"), std::string::npos)
      << bad.status();
  ASSERT_TRUE(run({"SET", "s", "text"}).isOk());
  auto wrong = run({"INCR", "s"});
  EXPECT_EQ(wrong.status().code(), Code::FAILED_PRECONDITION);
  auto ok = run({"PING"});
  EXPECT_TRUE(ok.isOk());
  EXPECT_EQ(client().stats().connects, 1u);
  EXPECT_EQ(client().stats().errors, 2u);
}

TEST_F(RedisClientTest, PipelinedCommandsAnswerInOrderOnOneConnection) {
  constexpr int kN = 5000;
  std::vector<int64_t> got;
  got.reserve(kN);
  int done = 0;
  for (int i = 0; i < kN; ++i) {
    client().command({"INCR", "counter"}, [&](Result<Reply> r) {
      ASSERT_TRUE(r.isOk()) << r.status();
      got.push_back(r->integer);
      ++done;
    });
  }
  // All of them are in flight at once: nothing was answered inside the calls.
  EXPECT_EQ(client().inflight(), static_cast<size_t>(kN));
  ASSERT_TRUE(loop_.runUntil([&] { return done == kN; }, 20s));
  for (int i = 0; i < kN; ++i)
    ASSERT_EQ(got[static_cast<size_t>(i)], i + 1);
  EXPECT_EQ(client().stats().connects, 1u);
}

TEST_F(RedisClientTest, ReconnectsAfterTheServerRestarts) {
  RedisClient::Options o;
  o.reconnect_min = 20ms;
  o.reconnect_max = 100ms;
  o.timeout = 5s;
  ASSERT_TRUE(client(o).connected() == false);
  ASSERT_TRUE(run({"SET", "a", "1"}).isOk());
  server_->stop(/*kill=*/true);
  // Broken while idle or refused while down: UNAVAILABLE, never a hang.
  auto down = run({"PING"});
  EXPECT_EQ(down.status().code(), Code::UNAVAILABLE) << down.status();
  ASSERT_TRUE(server_->resume().isOk());
  // The next commands wait for the reconnect (backoff) and succeed.
  std::optional<Result<Reply>> out;
  bool waiting = false;
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        if (out && out->isOk()) return true;
        if (!waiting) {
          waiting = true;
          out.reset();
          client().command({"PING"}, [&](Result<Reply> r) {
            out = std::move(r);
            waiting = false;
          });
        }
        return false;
      },
      10s));
  EXPECT_GE(client().stats().connects, 2u);
  auto gone = run({"GET", "a"});  // a fresh server: nothing was persisted
  ASSERT_TRUE(gone.isOk());
  EXPECT_TRUE(gone->isNil());
}

TEST_F(RedisClientTest, CommandPastItsDeadlineFailsTimeout) {
  RedisClient::Options o;
  o.timeout = 200ms;
  // CLIENT PAUSE holds every client's commands for 1 s: the two behind it are overdue.
  client(o);
  ASSERT_TRUE(run({"PING"}).isOk());
  std::optional<Result<Reply>> pause, first, second;
  client().command({"CLIENT", "PAUSE", "1000"}, [&](Result<Reply> r) { pause = std::move(r); });
  client().command({"PING"}, [&](Result<Reply> r) { first = std::move(r); });
  client().command({"GET", "k"}, [&](Result<Reply> r) { second = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return pause && first && second; }, 5s));
  ASSERT_TRUE(pause->isOk()) << pause->status();
  EXPECT_EQ(first->status().code(), Code::TIMEOUT) << first->status();
  EXPECT_EQ(second->status().code(), Code::TIMEOUT) << second->status();
  EXPECT_EQ(client().stats().connects, 1u);
  // The stuck connection was dropped; once the pause is over a new one serves commands.
  std::optional<Result<Reply>> after;
  bool waiting = false;
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        if (after && after->isOk()) return true;
        if (!waiting) {
          waiting = true;
          after.reset();
          client().command({"PING"}, [&](Result<Reply> r) {
            after = std::move(r);
            waiting = false;
          });
        }
        return false;
      },
      10s));
  EXPECT_GE(client().stats().connects, 2u);
}

TEST_F(RedisClientTest, UnreachableServerFailsWithoutHanging) {
  server_->stop(true);
  RedisClient::Options o;
  o.timeout = 500ms;
  o.connect_timeout = 200ms;
  client(o);
  auto r = run({"PING"});
  EXPECT_FALSE(r.isOk());
  EXPECT_TRUE(r.status().code() == Code::UNAVAILABLE || r.status().code() == Code::TIMEOUT)
      << r.status();
}

TEST_F(RedisClientTest, DestroyingTheClientCancelsWhatIsPending) {
  int cancelled = 0;
  for (int i = 0; i < 3; ++i) {
    client().command({"PING"}, [&](Result<Reply> r) {
      if (r.status().code() == Code::CANCELLED) ++cancelled;
    });
  }
  client_.reset();
  EXPECT_EQ(cancelled, 3);
}

TEST_F(RedisClientTest, RefusesEmptyCommandsAndOverload) {
  RedisClient::Options o;
  o.max_inflight = 2;
  std::vector<Code> codes;
  client(o).command({}, [&](Result<Reply> r) { codes.push_back(r.status().code()); });
  ASSERT_EQ(codes.size(), 1u);  // inside the call
  EXPECT_EQ(codes[0], Code::INVALID_ARGUMENT);
  client().command({"PING"}, [&](Result<Reply> r) { codes.push_back(r.status().code()); });
  client().command({"PING"}, [&](Result<Reply> r) { codes.push_back(r.status().code()); });
  client().command({"PING"}, [&](Result<Reply> r) { codes.push_back(r.status().code()); });
  ASSERT_EQ(codes.size(), 2u);
  EXPECT_EQ(codes[1], Code::OVERLOADED);
  ASSERT_TRUE(loop_.runUntil([&] { return codes.size() == 4; }, 5s));
  EXPECT_EQ(codes[2], Code::OK);
  EXPECT_EQ(codes[3], Code::OK);
}

}  // namespace
}  // namespace push::redis
