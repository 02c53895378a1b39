#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "services/queued/queued_options.h"

namespace push::queued {

// The table of nsqd v1.3.0's flags as queued takes them: each flag's name, kind, --help text,
// config-file key and the setter that stores (and range-checks) its value in QueuedOptions.
// QueuedOptions::parse() drives it from the command line and from --config; --config, --help
// and --version are not in the table (parse() handles them).

// Why a value was not taken; empty when it was. The text follows "invalid value ... for flag
// --name: " in parse()'s error.
using Reason = std::string;

// How a flag's text is read.
enum class FlagKind {
  String,      // any text
  Int,         // Go integer
  Bool,        // bare or =true|false
  Duration,    // Go duration, passed to the setter in milliseconds
  StringList,  // repeats; one element per occurrence
  FloatList,   // repeats; comma-separated floats per occurrence
  BoolText,    // bare means "true", else text (--tls-required)
};

// One flag. Exactly the setters its kind uses are set. A setter stores the value (a range
// setter may store it before refusing it: the error ends parsing anyway) and returns the Reason.
struct Flag {
  std::string_view name;
  FlagKind kind;
  std::string_view help;
  std::string_view default_text;  // shown by --help; empty: none shown
  std::string_view cfg_key;       // TOML key; empty: the name with '_'
  Reason (*set_text)(QueuedOptions&, std::string_view) = nullptr;  // String, BoolText, lists
  Reason (*set_int)(QueuedOptions&, int64_t) = nullptr;            // Int, Duration (milliseconds)
  void (*set_bool)(QueuedOptions&, bool) = nullptr;                // Bool
  void (*clear)(QueuedOptions&) = nullptr;                         // lists: empties the list
};

// Bool and BoolText flags: given bare, they mean "true" and take no following argument.
bool isBoolLike(const Flag& f);
// StringList and FloatList flags.
bool isList(const Flag& f);

// The flag's config-file key: cfg_key, or the name with '-' replaced by '_'.
std::string cfgKey(const Flag& f);

// Every flag, sorted by name as Go prints them. Static; lives for the whole program.
const std::vector<Flag>& nsqdFlags();

// The flag named `name` (without dashes), or nullptr. Points into nsqdFlags().
const Flag* findFlag(std::string_view name);
// The flag whose cfgKey() is `key`, or nullptr. Points into nsqdFlags().
const Flag* findCfgKey(std::string_view key);

// Sets a flag from command-line text with the Go flag package's rules for its kind (Int: Go
// integer; Duration: Go duration, truncated to milliseconds; Bool: Go bool; FloatList:
// comma-separated, each element set in turn). A list element is appended, never cleared here.
// Returns the reason it was refused, or empty.
Reason applyText(QueuedOptions& o, const Flag& f, std::string_view value);

}  // namespace push::queued
