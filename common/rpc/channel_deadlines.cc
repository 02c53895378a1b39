// Channel: call deadlines. Most calls share one timeout, so a call's deadline is seldom
// earlier than the previous call's: such calls form runs (channel.h, scheduleDeadline) with one
// wheel entry each, instead of an entry per call that stays in the wheel until its deadline
// long after the call completed (at a million calls a second with a 10 s timeout, 160 MB of
// entries, and their writes were ~4% of a call's cost).
#include <string>

#include "common/net/event_loop.h"
#include "common/net/loop_wheel.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "common/rpc/detail/channel_state.h"

namespace push::rpc {

void Channel::scheduleDeadline(uint64_t id, PendingCall& call) {
  const int64_t tick = (call.deadline_ms + detail::kDeadlineTickMs - 1) / detail::kDeadlineTickMs;
  if (!runs_.empty()) {
    DeadlineRun& last = runs_.back();
    if (tick == last.tick && last.last_id + 1 == id) {
      last.last_id = id;
      ++last.pending;
      call.run_seq = runs_front_seq_ + runs_.size() - 1;
      return;
    }
    if (tick < last.tick) {
      deadlines_->schedule(id, call.deadline_ms);  // due before the last run: on its own
      return;
    }
  }
  runs_.push_back(DeadlineRun{tick, id, id, 1});
  call.run_seq = runs_front_seq_ + runs_.size() - 1;
  deadlines_->schedule(detail::kDeadlineRunKey, tick * detail::kDeadlineTickMs);
}

void Channel::leaveDeadlineRun(const PendingCall& call) {
  // A run already taken off runs_ (due, or the channel closing) has nothing left to count.
  if (call.run_seq == PendingCall::kNoRun || call.run_seq < runs_front_seq_) return;
  --runs_[call.run_seq - runs_front_seq_].pending;
}

void Channel::onRunsDue() {
  const int64_t now = loop_.nowMs();
  while (!runs_.empty() && runs_.front().tick * detail::kDeadlineTickMs <= now) {
    const DeadlineRun run = runs_.front();  // a copy: completions below may add runs
    runs_.pop_front();
    ++runs_front_seq_;
    if (run.pending == 0) continue;  // every call of the run has completed
    for (uint64_t id = run.first_id; id <= run.last_id && deadlines_; ++id)
      onDeadline(id);  // a call completed meanwhile is not found there
  }
}

void Channel::onDeadline(uint64_t id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  const int64_t now = loop_.nowMs();
  if (now < it->second.deadline_ms) {
    deadlines_->schedule(id, it->second.deadline_ms);  // loop time lagged; check again later
    return;
  }
  const int64_t waited = (nowUs() - it->second.start_us) / 1000;
  std::string where = it->second.conn ? "from " + it->second.controller->remote()
                                      : "(no connection became available)";
  complete(id, Status(Code::TIMEOUT, "no reply within " + std::to_string(waited) + " ms " + where));
}

}  // namespace push::rpc
