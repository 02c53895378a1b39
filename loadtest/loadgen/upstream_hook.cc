#include "loadtest/loadgen/upstream_hook.h"

#include <charconv>

#include "common/base/json_reader.h"

namespace push::loadgen {

bool UpstreamHookTally::userIndex(std::string_view user, uint64_t* index) const {
  if (user.substr(0, user_prefix_.size()) != user_prefix_) return false;
  user.remove_prefix(user_prefix_.size());
  const auto [end, ec] = std::from_chars(user.data(), user.data() + user.size(), *index);
  return ec == std::errc() && end == user.data() + user.size() && !user.empty();
}

bool UpstreamHookTally::onBody(std::string_view body) {
  ++received_;
  JsonReader r(body);
  std::string key, user;
  uint64_t seq = 0;
  bool has_user = false, has_seq = false;
  bool ok = r.beginObject().isOk();
  while (ok && r.nextKey(&key)) {
    if (key == "user") {
      ok = r.readString(&user).isOk();
      has_user = true;
    } else if (key == "seq") {
      ok = r.readUint(&seq, UINT64_MAX).isOk();
      has_seq = true;
    } else {
      ok = r.skipValue().isOk();
    }
  }
  uint64_t index = 0;
  if (!ok || !r.finish().isOk() || !has_user || !has_seq || !userIndex(user, &index)) {
    ++unreadable_;
    return false;
  }
  if (seen_.size() >= kMaxTracked) {
    ++unique_;
    ++untracked_;
    return true;
  }
  if (seen_.insert({index, seq}).second) {
    ++unique_;
  } else {
    ++duplicates_;
  }
  return true;
}

}  // namespace push::loadgen
