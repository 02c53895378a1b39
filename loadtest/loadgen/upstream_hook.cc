#include "loadtest/loadgen/upstream_hook.h"

#include "common/base/json_reader.h"

namespace push::loadgen {

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
  if (!ok || !r.finish().isOk() || !has_user || !has_seq || user.empty()) {
    ++unreadable_;
    return false;
  }
  if (seen_.size() >= kMaxTracked) {
    ++unique_;
    ++untracked_;
    return true;
  }
  if (seen_.insert(user + " " + std::to_string(seq)).second) {
    ++unique_;
  } else {
    ++duplicates_;
  }
  return true;
}

}  // namespace push::loadgen
