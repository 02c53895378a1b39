#pragma once

#include <cstddef>
#include <string_view>

namespace push {

// The one rule for tag names (sdk/PROTOCOL.md "Tags"): 1..64 bytes of [A-Za-z0-9_.:-]. Tags
// are index keys in rooms, travel in queue messages and log lines: nothing needs escaping.
// Shared by the SDK (before sending), the room (Subscribe) and center (POST /v1/broadcast).
inline constexpr size_t kMaxTagNameBytes = 64;
bool isValidTagName(std::string_view tag);

}  // namespace push
