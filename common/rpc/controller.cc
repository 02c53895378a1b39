#include "common/rpc/controller.h"

#include <climits>

#include "common/base/clock.h"

namespace push::rpc {

int64_t Controller::remainingMs() const {
  if (deadline_mono_ms_ == 0) return INT64_MAX;
  return deadline_mono_ms_ - Clock::system().monoMillis();
}

void Controller::Reset() {
  status_ = Status();
  timeout_ms_ = 0;
  hash_key_ = 0;
  latency_us_ = 0;
  deadline_mono_ms_ = 0;
  remote_.clear();
}

namespace {
class FunctionClosure final : public google::protobuf::Closure {
 public:
  explicit FunctionClosure(std::function<void()> fn) : fn_(std::move(fn)) {}
  void Run() override {
    auto fn = std::move(fn_);
    delete this;
    fn();
  }

 private:
  std::function<void()> fn_;
};
}  // namespace

google::protobuf::Closure* newCallback(std::function<void()> fn) {
  return new FunctionClosure(std::move(fn));
}

}  // namespace push::rpc
