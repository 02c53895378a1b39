#include <push/push_client.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/net/event_loop.h"
#include "tests/unit/sdk/c_api_smoke.h"
#include "tests/unit/sdk/fake_room.h"

namespace push::sdk::testing {
namespace {

using namespace std::chrono_literals;
constexpr std::chrono::milliseconds kPoll{5};

// What the C callbacks saw (they run on the SDK thread).
struct Seen {
  std::mutex mu;
  std::vector<push_state> states;
  std::vector<std::string> details;
  std::vector<uint64_t> ids;
  std::vector<std::string> payloads;
  std::vector<int32_t> errors;
  std::vector<std::pair<uint64_t, int32_t>> upstream;
  std::atomic<bool> closed{false};  // push_client_close() has returned
  std::atomic<int> after_close{0};  // callbacks seen after that (must stay 0)

  void note() {
    if (closed) ++after_close;
  }
  bool online() {
    std::lock_guard lock(mu);
    for (push_state s : states) {
      if (s == PUSH_STATE_ONLINE) return true;
    }
    return false;
  }
  size_t messages() {
    std::lock_guard lock(mu);
    return ids.size();
  }
};

void onMessage(void* user_data, const push_message* m) {
  auto* seen = static_cast<Seen*>(user_data);
  seen->note();
  std::lock_guard lock(seen->mu);
  seen->ids.push_back(m->id);
  seen->payloads.emplace_back(reinterpret_cast<const char*>(m->payload), m->payload_len);
}

void onState(void* user_data, push_state state, const char* detail) {
  auto* seen = static_cast<Seen*>(user_data);
  seen->note();
  std::lock_guard lock(seen->mu);
  seen->states.push_back(state);
  seen->details.emplace_back(detail);
}

void onError(void* user_data, int32_t code, const char*) {
  auto* seen = static_cast<Seen*>(user_data);
  seen->note();
  std::lock_guard lock(seen->mu);
  seen->errors.push_back(code);
}

void onUpstreamAck(void* user_data, uint64_t seq, int32_t code, const char*) {
  auto* seen = static_cast<Seen*>(user_data);
  seen->note();
  std::lock_guard lock(seen->mu);
  seen->upstream.emplace_back(seq, code);
}

class CApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(room_.start().isOk()); }
  void TearDown() override {
    room_.stop();
    EXPECT_TRUE(loop_.runUntil([&] { return room_.openConnections() == 0; }, 5s));
    EXPECT_TRUE(loop_.shutdown().isOk());
  }
  bool until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
    return loop_.runUntil(done, timeout, kPoll);
  }

  net::EventLoop loop_;
  FakeRoom room_{loop_};
};

TEST_F(CApiTest, RoundTripAndCloseFromAnotherThread) {
  const std::string servers = room_.address();
  push_client_config config;
  push_client_config_init(&config);
  config.servers = servers.c_str();
  config.token = "tok";
  config.network = PUSH_NETWORK_WIFI;
  config.client_version = "c-test/1";
  push_client* client = push_client_new(&config);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(push_client_state(client), PUSH_STATE_DISCONNECTED);

  Seen seen;
  ASSERT_EQ(push_client_set_callbacks(client, onMessage, onState, onError, &seen), PUSH_OK);
  ASSERT_EQ(push_client_set_upstream_callback(client, onUpstreamAck, &seen), PUSH_OK);
  ASSERT_EQ(push_client_connect(client), PUSH_OK);
  EXPECT_EQ(push_client_set_callbacks(client, onMessage, onState, onError, &seen),
            PUSH_ERR_WRONG_STATE);
  ASSERT_TRUE(until([&] { return seen.online(); }));
  EXPECT_EQ(push_client_state(client), PUSH_STATE_ONLINE);
  EXPECT_EQ(room_.conn(0).auths.at(0).client_version(), "c-test/1");

  // A binary payload arrives intact and is acked.
  room_.push(room_.conn(0), 9, "demo", std::string("\0\1\2", 3), 1);
  ASSERT_TRUE(until([&] { return seen.messages() == 1 && !room_.conn(0).acked.empty(); }));
  {
    std::lock_guard lock(seen.mu);
    EXPECT_EQ(seen.ids[0], 9u);
    EXPECT_EQ(seen.payloads[0], std::string("\0\1\2", 3));
  }

  uint64_t seq = 0;
  ASSERT_EQ(push_client_send_upstream(client, nullptr, "up", 2, &seq), PUSH_OK);
  ASSERT_TRUE(until([&] {
    std::lock_guard lock(seen.mu);
    return !seen.upstream.empty();
  }));
  {
    std::lock_guard lock(seen.mu);
    EXPECT_EQ(seen.upstream[0].first, seq);
    EXPECT_EQ(seen.upstream[0].second, PUSH_ERROR_NONE);
  }
  EXPECT_EQ(push_client_send_upstream(client, nullptr, nullptr, 5, &seq),
            PUSH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(push_client_set_token(client, "newer"), PUSH_OK);
  EXPECT_EQ(push_client_set_token(client, ""), PUSH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(push_client_ack(client, 9), PUSH_OK);

  // Close from another thread while the room keeps the callbacks busy.
  std::atomic<bool> close_returned{false};
  std::thread closer([&] {
    EXPECT_EQ(push_client_close(client), PUSH_OK);
    seen.closed = true;
    close_returned = true;
  });
  uint64_t id = 100;
  ASSERT_TRUE(until(
      [&] {
        if (room_.conn(0).open()) room_.push(room_.conn(0), id++, "demo", "busy", 1);
        return close_returned.load();
      },
      10s));
  closer.join();
  EXPECT_EQ(push_client_state(client), PUSH_STATE_CLOSED);
  EXPECT_EQ(push_client_connect(client), PUSH_ERR_CLOSED);
  EXPECT_EQ(push_client_close(client), PUSH_OK);  // idempotent
  push_client_free(client);
  EXPECT_EQ(seen.after_close.load(), 0);
}

// Typed upstream with the webhook's reply, and a network change, through the C API.
struct Replies {
  std::mutex mu;
  std::vector<std::string> replies;
};

void onUpstreamReply(void* user_data, uint64_t, int32_t code, const char*, const uint8_t* reply,
                     size_t reply_len) {
  auto* r = static_cast<Replies*>(user_data);
  std::lock_guard lock(r->mu);
  r->replies.push_back(std::to_string(code) + ":" +
                       std::string(reinterpret_cast<const char*>(reply), reply_len));
}

TEST_F(CApiTest, TypedUpstreamReplyAndNetworkChange) {
  room_.upstream_reply = std::string("ok\0!", 4);
  const std::string servers = room_.address();
  push_client_config config;
  push_client_config_init(&config);
  EXPECT_EQ(config.route_failures, 3u);
  config.servers = servers.c_str();
  config.token = "tok";
  config.network = PUSH_NETWORK_WIFI;
  push_client* client = push_client_new(&config);
  ASSERT_NE(client, nullptr);
  Seen seen;
  Replies replies;
  ASSERT_EQ(push_client_set_callbacks(client, onMessage, onState, onError, &seen), PUSH_OK);
  ASSERT_EQ(push_client_set_upstream_reply_callback(client, onUpstreamReply, &replies), PUSH_OK);
  ASSERT_EQ(push_client_connect(client), PUSH_OK);
  ASSERT_TRUE(until([&] { return seen.online(); }));
  uint64_t seq = 0;
  ASSERT_EQ(push_client_send_upstream_typed(client, nullptr, "chat", "hi", 2, &seq), PUSH_OK);
  EXPECT_EQ(push_client_send_upstream_typed(client, nullptr, "bad type", "hi", 2, &seq),
            PUSH_ERR_INVALID_ARGUMENT);
  ASSERT_TRUE(until([&] {
    std::lock_guard lock(replies.mu);
    return !replies.replies.empty();
  }));
  {
    std::lock_guard lock(replies.mu);
    EXPECT_EQ(replies.replies[0], std::string("0:ok\0!", 6));
  }
  EXPECT_EQ(room_.conn(0).upstreams.at(0).type(), "chat");
  EXPECT_EQ(push_client_set_network(client, static_cast<push_network>(9)),
            PUSH_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(push_client_set_network(client, PUSH_NETWORK_CELLULAR), PUSH_OK);
  ASSERT_TRUE(until([&] { return room_.authenticated() == 2; }));
  EXPECT_EQ(room_.conn(1).auths.at(0).network(), client::NETWORK_CELLULAR);
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    push_client_free(client);
    closed = true;
  });
  EXPECT_TRUE(until([&] { return closed.load(); }, 10s));
  closer.join();
}

TEST(CApiConfigTest, ADispatcherStandsInForTheServers) {
  push_client_config config;
  push_client_config_init(&config);
  EXPECT_EQ(push_client_config_check(&config, nullptr, 0), PUSH_ERR_INVALID_ARGUMENT);
  config.dispatcher = "http://127.0.0.1:8090";
  config.region = "east";
  EXPECT_EQ(push_client_config_check(&config, nullptr, 0), PUSH_OK);
  config.dispatcher = "https://x";
  char why[128];
  EXPECT_EQ(push_client_config_check(&config, why, sizeof why), PUSH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(why).find("dispatcher"), std::string::npos) << why;
}

// The app frees the client from inside a callback (on the SDK thread): the client finishes
// closing on its own once the callback has returned.
struct FreeFromCallback {
  push_client* client = nullptr;
  std::atomic<bool> freed{false};
};

void freeWhenOnline(void* user_data, push_state state, const char*) {
  auto* ctx = static_cast<FreeFromCallback*>(user_data);
  if (state != PUSH_STATE_ONLINE) return;
  push_client_free(ctx->client);
  ctx->freed = true;
}

TEST_F(CApiTest, FreeFromACallback) {
  const std::string servers = room_.address();
  push_client_config config;
  push_client_config_init(&config);
  config.servers = servers.c_str();
  config.token = "tok";
  FreeFromCallback ctx;
  ctx.client = push_client_new(&config);
  ASSERT_NE(ctx.client, nullptr);
  ASSERT_EQ(push_client_set_callbacks(ctx.client, nullptr, freeWhenOnline, nullptr, &ctx), PUSH_OK);
  ASSERT_EQ(push_client_connect(ctx.client), PUSH_OK);
  ASSERT_TRUE(until([&] { return ctx.freed.load(); }));
  // The SDK thread closes its connection gracefully, then ends and frees itself.
  ASSERT_TRUE(until([&] { return room_.accepted() == 1 && !room_.conn(0).open(); }));
}

// Subscribe through the C API: the result callback with its tags, re-subscription after a
// reconnect, and a broadcast's sequence and tag in push_message.
struct TagSeen {
  std::mutex mu;
  std::vector<uint64_t> seqs;
  std::vector<int32_t> codes;
  std::vector<std::vector<std::string>> tags;
  std::vector<std::pair<uint64_t, std::string>> broadcasts;  // broadcast_seq, tag
  size_t results() {
    std::lock_guard lock(mu);
    return seqs.size();
  }
};

void onSubscribe(void* user_data, uint64_t seq, const char* app, int32_t code, const char*,
                 const char* const* tags, size_t tag_count) {
  auto* seen = static_cast<TagSeen*>(user_data);
  std::lock_guard lock(seen->mu);
  EXPECT_STREQ(app, "demo");
  seen->seqs.push_back(seq);
  seen->codes.push_back(code);
  seen->tags.emplace_back(tags, tags + tag_count);
}

void onTagMessage(void* user_data, const push_message* m) {
  auto* seen = static_cast<TagSeen*>(user_data);
  std::lock_guard lock(seen->mu);
  seen->broadcasts.emplace_back(m->broadcast_seq, m->tag);
}

TEST_F(CApiTest, SubscribeReportsAndResubscribesAfterAReconnect) {
  const std::string servers = room_.address();
  push_client_config config;
  push_client_config_init(&config);
  config.servers = servers.c_str();
  config.token = "tok";
  config.backoff_initial_ms = 10;
  push_client* client = push_client_new(&config);
  ASSERT_NE(client, nullptr);
  TagSeen seen;
  ASSERT_EQ(push_client_set_callbacks(client, onTagMessage, nullptr, nullptr, &seen), PUSH_OK);
  ASSERT_EQ(push_client_set_subscribe_callback(client, onSubscribe, &seen), PUSH_OK);
  ASSERT_EQ(push_client_connect(client), PUSH_OK);
  EXPECT_EQ(push_client_set_subscribe_callback(client, onSubscribe, &seen), PUSH_ERR_WRONG_STATE);

  const char* tags[] = {"news", "sport"};
  uint64_t seq = 0;
  ASSERT_EQ(push_client_subscribe(client, "demo", tags, 2, &seq), PUSH_OK);
  EXPECT_NE(seq, 0u);
  ASSERT_TRUE(until([&] { return seen.results() == 1; }));
  {
    std::lock_guard lock(seen.mu);
    EXPECT_EQ(seen.seqs[0], seq);
    EXPECT_EQ(seen.codes[0], PUSH_ERROR_NONE);
    EXPECT_EQ(seen.tags[0], (std::vector<std::string>{"news", "sport"}));
  }
  ASSERT_EQ(push_client_unsubscribe(client, "demo", tags + 1, 1, nullptr), PUSH_OK);
  ASSERT_TRUE(until([&] { return seen.results() == 2; }));
  const char* bad[] = {"no spaces"};
  EXPECT_EQ(push_client_subscribe(client, "demo", bad, 1, nullptr), PUSH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(push_client_subscribe(client, "demo", nullptr, 1, nullptr), PUSH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(push_client_subscribe(client, nullptr, tags, 1, nullptr), PUSH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(push_client_subscribe(client, "demo", tags, 0, nullptr), PUSH_ERR_INVALID_ARGUMENT);

  room_.pushBroadcast(room_.conn(0), 5, "demo", 3, "news");
  ASSERT_TRUE(until([&] {
    std::lock_guard lock(seen.mu);
    return seen.broadcasts.size() == 1;
  }));
  {
    std::lock_guard lock(seen.mu);
    EXPECT_EQ(seen.broadcasts[0], (std::pair<uint64_t, std::string>{3, "news"}));
  }

  room_.close(room_.conn(0));
  ASSERT_TRUE(
      until([&] { return room_.accepted() >= 2 && room_.conn(1).tag_requests.size() == 1; }));
  const client::Frame& again = room_.conn(1).tag_requests[0];
  ASSERT_TRUE(again.has_subscribe());
  ASSERT_EQ(again.subscribe().tags_size(), 1);
  EXPECT_EQ(again.subscribe().tags(0), "news");
  push_client_free(client);
}

TEST_F(CApiTest, HeaderWorksFromC) {
  const std::string servers = room_.address();
  std::atomic<int> result{-1};
  std::thread t([&] { result = push_c_smoke(servers.c_str()); });
  ASSERT_TRUE(until([&] { return result.load() >= 0; }, 10s));
  t.join();
  EXPECT_EQ(result.load(), 0);
}

TEST(CApiConfigTest, RejectsBadConfigs) {
  EXPECT_EQ(push_client_new(nullptr), nullptr);
  push_client_config config;
  push_client_config_init(&config);
  EXPECT_EQ(config.max_frame_bytes, 65536u);
  EXPECT_EQ(config.backoff_initial_ms, 500u);
  EXPECT_EQ(push_client_new(&config), nullptr);  // no servers
  config.servers = "bad_host.example:7100";      // '_' is not allowed in a host name
  char why[256];
  EXPECT_EQ(push_client_config_check(&config, why, sizeof why), PUSH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::strstr(why, "bad_host.example"), nullptr) << why;
  EXPECT_EQ(push_client_new(&config), nullptr);
  config.servers = "push.example.com:7100";  // resolved when connecting
  EXPECT_EQ(push_client_config_check(&config, why, sizeof why), PUSH_OK) << why;
  config.servers = "127.0.0.1:7100, 127.0.0.1:7101";
  EXPECT_EQ(push_client_config_check(&config, why, sizeof why), PUSH_OK);
  config.max_frame_bytes = 0;
  EXPECT_EQ(push_client_config_check(&config, nullptr, 0), PUSH_ERR_INVALID_ARGUMENT);
  push_client_free(nullptr);
  EXPECT_EQ(push_client_connect(nullptr), PUSH_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(push_error_name(PUSH_ERROR_TOKEN_EXPIRED), "ERROR_TOKEN_EXPIRED");
  EXPECT_STREQ(push_error_name(PUSH_ERROR_SDK_CONNECTION_LOST), "SDK_CONNECTION_LOST");
  EXPECT_STREQ(push_status_name(PUSH_ERR_QUEUE_FULL), "QUEUE_FULL");
  EXPECT_STREQ(push_error_name(PUSH_ERROR_TOO_MANY_TAGS), "ERROR_TOO_MANY_TAGS");
}

}  // namespace
}  // namespace push::sdk::testing
