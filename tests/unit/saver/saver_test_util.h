#pragma once

// What the saver tests share: a SaverServer started on the test's loop with a channel and a
// stub to call it, and the wall clock.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/net/event_loop.h"
#include "common/rpc/channel.h"
#include "proto/saver.pb.h"
#include "services/saver/saver_server.h"

namespace push::testing {

inline int64_t nowMs() {
  return Clock::system().wallMillis();
}

// A started SaverServer and a Saver stub on a channel to it. start() ends the test on failure
// (call it under ASSERT_NO_FATAL_FAILURE or at the end of a helper); stop() stops gracefully.
struct RunningSaver {
  std::unique_ptr<saver::SaverServer> server;
  rpc::ChannelPtr channel;
  std::unique_ptr<saver::Saver_Stub> stub;

  void start(net::EventLoop& loop, saver::SaverOptions options) {
    auto created = saver::SaverServer::create(loop, std::move(options));
    ASSERT_TRUE(created.isOk()) << created.status().toString();
    server = std::move(created).value();
    ASSERT_TRUE(server->start().isOk());
    auto ch = rpc::Channel::create(loop, rpc::Channel::Options());
    ASSERT_TRUE(ch.isOk());
    channel = std::move(ch).value();
    ASSERT_TRUE(
        channel->setEndpoints(std::vector<std::string>{server->address().toString()}).isOk());
    stub = std::make_unique<saver::Saver_Stub>(channel.get());
  }

  void stop(net::EventLoop& loop) {
    stub.reset();
    channel.reset();
    if (!server) return;
    bool done = false;
    server->stop([&] { done = true; });
    EXPECT_TRUE(loop.runUntil([&] { return done; }, std::chrono::seconds(15)));
    server.reset();
  }
};

}  // namespace push::testing
