#pragma once

#include <cstdint>
#include <optional>
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

// Go's value syntax, as nsqd's flags and config file read it. A parser that takes `reason`
// sets it to Go's error text when it returns nullopt, and clears it on success.

// Whether `c` is a digit of `base` (2..36; letters either case), and its value (for a digit).
bool isDigitIn(char c, int base);
int digitValue(char c);

// strconv.ParseInt(s, 0, 64): optional sign, base prefixes 0x, 0o, 0b, a leading 0 for octal,
// '_' between digits. reason: "parse error" or "value out of range".
std::optional<int64_t> parseGoInt(std::string_view s, std::string* reason);

// strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False.
std::optional<bool> parseGoBool(std::string_view s);

// time.ParseDuration, in nanoseconds ("250ms", "1h30m", "-1.5s"; units ns us µs ms s m h).
// reason: Go's "time: invalid duration \"...\"" and its missing- and unknown-unit texts.
std::optional<int64_t> parseGoDuration(std::string_view original, std::string* reason);

// A float as strtod reads it, over the whole text: no leading space, nothing after it, no NaN,
// and nullopt when it is out of double's range.
std::optional<double> parseFloat(std::string_view s);

}  // namespace push::queued
