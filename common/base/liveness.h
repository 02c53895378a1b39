#pragma once

#include <memory>

namespace push {

// Lets a callback that may run after its owner is gone (an RPC completion, a posted task)
// check first. The owner holds a Liveness; callbacks capture a Liveness::Token, a weak handle
// that costs one shared_ptr copy, and return early when `!token.alive()`:
//
//   register_->lookup(keys, [this, alive = liveness_.token()](...) {
//     if (!alive.alive()) return;   // the server was stopped or destroyed
//     ...
//   });
//
// The owner ends it with kill() (e.g. in stop(), before the callbacks could run) or by being
// destroyed. Not thread-safe: owner and callbacks live on one loop thread.
class Liveness {
 public:
  class Token {
   public:
    bool alive() const { return flag_ && *flag_; }

   private:
    friend class Liveness;
    explicit Token(std::shared_ptr<const bool> flag) : flag_(std::move(flag)) {}
    std::shared_ptr<const bool> flag_;
  };

  Liveness() : flag_(std::make_shared<bool>(true)) {}
  ~Liveness() { *flag_ = false; }
  Liveness(const Liveness&) = delete;
  Liveness& operator=(const Liveness&) = delete;

  Token token() const { return Token(flag_); }
  // Every token taken so far (and later) reports dead. Idempotent.
  void kill() { *flag_ = false; }
  bool alive() const { return *flag_; }

 private:
  std::shared_ptr<bool> flag_;
};

}  // namespace push
