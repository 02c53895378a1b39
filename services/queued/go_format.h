#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace push::queued {

// nsqd is written in Go, and some of its answers show Go's formatting; queued reproduces it
// where a client could see the difference.

// Go's %q of a byte string: quoted, `"` and `\` escaped, control bytes as \a \b \f \n \r \t \v
// or \xNN, valid UTF-8 kept, invalid bytes as \xNN.
std::string goQuote(std::string_view text);

// nsqd's ByteToBase10: ASCII digits only (no sign), "" is 0, overflow wraps in uint64 and the
// result is read as int64. false when a byte is not a digit.
bool parseBase10(std::string_view text, int64_t* value);

// Go's time.Duration.String() of a whole number of seconds ("0s", "1m5s", "2h0m0s").
std::string goDurationSeconds(int64_t seconds);

}  // namespace push::queued
