#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace push::queued {

// The subset of TOML that nsqd's config files use (QueuedOptions --config): `key = value`
// lines, # comments, bare or quoted keys, values that are basic ("...", with \b \t \n \f \r \"
// \\ \uXXXX \UXXXXXXXX escapes) or literal ('...') strings, integers in Go's syntax (0x, 0o,
// 0b prefixes, '_' between digits; no leading 0), floats, true/false, and arrays of those,
// which may span lines. Refused with an error: tables, inline tables, dotted keys, multi-line
// strings, nested arrays.

// One value read from the file.
struct TomlValue {
  enum class Type { String, Integer, Float, Bool, Array } type = Type::String;
  std::string text;  // String: the value; others: the source text, for messages
  int64_t integer = 0;
  double number = 0;
  bool boolean = false;
  std::vector<TomlValue> items;  // Array: its elements (never arrays themselves)
};

// Reads a whole file's text one `key = value` at a time. Keys are returned as written;
// checking them (unknown, repeated) is the caller's job.
class TomlReader {
 public:
  explicit TomlReader(std::string text) : text_(std::move(text)) {}

  // The 1-based line the reader has reached; after an error, where the error was found.
  int line() const { return line_; }
  // Why reading stopped; empty while there was no error (also at a clean end of the file).
  const std::string& error() const { return error_; }

  // Reads the next `key = value` into *key, *value and the key's line into *key_line. False
  // at the end of the file or on error (error() set); do not call again after false.
  bool next(std::string* key, TomlValue* value, int* key_line);

 private:
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  // Keeps the first error; always false.
  bool fail(std::string message);
  void skipSpaces();
  void skipToLineEnd();
  // Spaces, comments and (when `newlines`) line ends.
  void skipBlankAndComments(bool newlines);
  bool readKey(std::string* key);
  bool readString(TomlValue* v);
  bool readValue(TomlValue* v);

  std::string text_;
  size_t pos_ = 0;
  int line_ = 1;
  std::string error_;
};

}  // namespace push::queued
