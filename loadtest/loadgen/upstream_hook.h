#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

namespace push::loadgen {

// What push-loadtest's webhook receiver (push-load webhook) counts: each body the coordinator
// POSTs for an upstream item ({"request_id","app","user","device","room","conn_id","seq",
// "type","payload"}: services/coordinator/webhook_body.h) is one item, named by its user's
// index (the user is <user_prefix><index>) and its seq (unique in the worker that sent it; the
// workers' users are disjoint), so a second POST of one item (a retry after a lost answer) is
// a duplicate, and a user not of that form is not ours (unreadable). At most kMaxTracked items
// are remembered (16 bytes each plus the set's own); past that they count unique unchecked
// (untracked). Not thread-safe.
class UpstreamHookTally {
 public:
  static constexpr size_t kMaxTracked = 10'000'000;

  explicit UpstreamHookTally(std::string user_prefix) : user_prefix_(std::move(user_prefix)) {}

  // False when the body is not such an item (counted unreadable).
  bool onBody(std::string_view body);

  uint64_t received() const { return received_; }
  uint64_t unique() const { return unique_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t unreadable() const { return unreadable_; }
  uint64_t untracked() const { return untracked_; }

 private:
  struct KeyHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& k) const {
      return std::hash<uint64_t>()(k.first * 0x9E3779B97F4A7C15ULL ^ k.second);
    }
  };
  // The index of user "<prefix><index>"; false for any other name.
  bool userIndex(std::string_view user, uint64_t* index) const;
  std::string user_prefix_;
  std::unordered_set<std::pair<uint64_t, uint64_t>, KeyHash> seen_;  // (user index, seq)
  uint64_t received_ = 0, unique_ = 0, duplicates_ = 0, unreadable_ = 0, untracked_ = 0;
};

}  // namespace push::loadgen
