#pragma once

// Small ASCII text helpers for protocol parsing (HTTP header names and values, tokens), where
// the rules are ASCII-only whatever the locale.

#include <string_view>

namespace push {

// ASCII case-insensitive equality, for header names and tokens.
bool equalsIgnoreCase(std::string_view a, std::string_view b);

// `s` without leading and trailing spaces and tabs (HTTP's optional whitespace).
std::string_view trimBlanks(std::string_view s);

}  // namespace push
