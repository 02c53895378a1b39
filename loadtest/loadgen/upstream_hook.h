#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

namespace push::loadgen {

// What push-loadtest's webhook receiver (push-load webhook) counts: each body the coordinator
// POSTs for an upstream item ({"request_id","app","user","device","room","conn_id","seq",
// "type","payload"}: services/coordinator/webhook_body.h) is one item, named by its user and
// seq (seq is unique in the worker that sent it, the workers' users are disjoint), so a second
// POST of one item (a retry after a lost answer) is a duplicate. At most kMaxTracked items are
// remembered; past that they count unique unchecked (untracked). Not thread-safe.
class UpstreamHookTally {
 public:
  static constexpr size_t kMaxTracked = 20'000'000;

  // False when the body is not such an item (counted unreadable).
  bool onBody(std::string_view body);

  uint64_t received() const { return received_; }
  uint64_t unique() const { return unique_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t unreadable() const { return unreadable_; }
  uint64_t untracked() const { return untracked_; }

 private:
  std::unordered_set<std::string> seen_;  // "<user> <seq>"
  uint64_t received_ = 0, unique_ = 0, duplicates_ = 0, unreadable_ = 0, untracked_ = 0;
};

}  // namespace push::loadgen
