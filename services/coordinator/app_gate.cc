#include "services/coordinator/app_gate.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace push::coord {

AppGate::AppGate(uint32_t max_running, uint32_t max_queued)
    : max_running_(std::max<uint32_t>(max_running, 1)), max_queued_(max_queued) {}

AppGate::~AppGate() {
  cancelQueued();
}

bool AppGate::submit(Task task) {
  if (running_ < max_running_ && queue_.empty()) {
    ++running_;
    task(true);
    return true;
  }
  if (queue_.size() >= max_queued_) return false;
  queue_.push_back(std::move(task));
  return true;
}

void AppGate::release() {
  assert(running_ > 0);
  if (running_ > 0) --running_;
  startWaiting();
}

void AppGate::setLimits(uint32_t max_running, uint32_t max_queued) {
  max_running_ = std::max<uint32_t>(max_running, 1);
  max_queued_ = max_queued;
  startWaiting();
}

void AppGate::startWaiting() {
  // A task may submit or release again from inside its call: take it off the queue first.
  while (running_ < max_running_ && !queue_.empty()) {
    Task task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    task(true);
  }
}

void AppGate::cancelQueued() {
  std::deque<Task> dropped;
  dropped.swap(queue_);
  for (Task& task : dropped)
    task(false);
}

}  // namespace push::coord
