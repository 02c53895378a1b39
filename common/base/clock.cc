#include "common/base/clock.h"

namespace push {
namespace {

class SystemClock final : public Clock {
 public:
  MonoTime monoNow() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
};

}  // namespace

const Clock& Clock::system() {
  static const SystemClock clock;
  return clock;
}

}  // namespace push
