#include "common/base/liveness.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

namespace push {
namespace {

TEST(LivenessTest, TokenSeesKill) {
  Liveness liveness;
  Liveness::Token token = liveness.token();
  EXPECT_TRUE(token.alive());
  liveness.kill();
  EXPECT_FALSE(token.alive());
  EXPECT_FALSE(liveness.token().alive());  // a token taken after kill() is dead too
  liveness.kill();                         // idempotent
  EXPECT_FALSE(liveness.alive());
}

TEST(LivenessTest, TokenOutlivesItsOwner) {
  std::function<bool()> callback;
  {
    auto owner = std::make_unique<Liveness>();
    callback = [token = owner->token()] { return token.alive(); };
    EXPECT_TRUE(callback());
  }
  EXPECT_FALSE(callback());  // the owner is gone; the token is still safe to read
}

}  // namespace
}  // namespace push
