#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace push {

// THE JSON string escaper of the code base (JsonWriter, http's error bodies, tokens, the
// services' /status documents all use it). Appends `s` as a JSON string literal, quotes
// included. The rule, byte by byte:
//   '"' -> \"    '\\' -> \\    '\n' -> \n    '\r' -> \r    '\t' -> \t
//   other bytes below 0x20, and 0x7f (DEL)  -> \u00XX (lower-case hex)
//   a well-formed UTF-8 sequence (RFC 3629: shortest form, no surrogates, at most U+10FFFF)
//                                           -> copied unchanged
//   any other byte (a stray continuation byte, a truncated or overlong sequence, a surrogate,
//   0xF5..0xFF)                              -> U+FFFD (EF BF BD), one per byte; scanning
//                                              resumes at the next byte
// So the output is valid UTF-8 and valid JSON whatever `s` holds (bytes received over the
// network, ids from another service), and a string that was valid UTF-8 reads back unchanged
// with JsonReader::readString. Examples: "\xC3" -> "\uFFFD" as one replacement character;
// "\xC0\xAF" (overlong '/') -> two; "\xED\xA0\x80" (a surrogate) -> three.
void appendJsonString(std::string* out, std::string_view s);

// The same escaping without the surrounding quotes (the contents of a JSON string).
void appendJsonEscaped(std::string* out, std::string_view s);

// A small streaming JSON writer into a std::string it owns: no DOM, commas and colons placed
// for the caller, every string (keys too) escaped by appendJsonString.
//
//   JsonWriter w;
//   w.beginObject();
//   w.key("sessions").uint64(table.sessionCount());
//   w.key("rooms").beginArray();
//   for (const auto& room : rooms) {
//     w.beginObject().key("id").string(room.id).key("synced").boolean(room.synced).endObject();
//   }
//   w.endArray();
//   w.endObject();
//   return w.take();                // {"sessions":3,"rooms":[{"id":"r1","synced":true}]}
//
// Grammar misuse (a value where a key is expected, a key outside an object, endArray() for an
// object, a second top-level value, ...) is a programmer error: it asserts in debug builds; in
// release builds the call is ignored, ok() turns false for good, and the text written so far
// stays as it is. Nesting is unbounded (the caller's structure decides). Not thread-safe.
class JsonWriter {
 public:
  JsonWriter() = default;
  // Starts with `reserve` bytes of capacity (a guess of the document size saves copies).
  explicit JsonWriter(size_t reserve) { out_.reserve(reserve); }

  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  // The next member's key, inside an object; exactly one value (or container) must follow.
  JsonWriter& key(std::string_view name);

  // Values: in an array, as the value of a key, or as the one top-level value.
  JsonWriter& string(std::string_view value);
  JsonWriter& int64(int64_t value);
  JsonWriter& uint64(uint64_t value);
  // Finite: the shortest text that reads back as the same double (std::to_chars), e.g. 0.1,
  // 1e+30. NaN and infinities have no JSON form: written as null.
  JsonWriter& number(double value);
  JsonWriter& boolean(bool value);
  JsonWriter& null();
  // `json` is written as is, as one value: it must already be one valid JSON value (e.g. a
  // document another component produced). Not checked.
  JsonWriter& raw(std::string_view json);

  // The text so far.
  const std::string& str() const { return out_; }
  // Moves the text out; the writer is empty afterwards (and may be reused).
  std::string take();
  // True once exactly one top-level value was written and every container was closed.
  bool complete() const { return ok_ && top_done_ && stack_.empty(); }
  // False after any misuse (see above).
  bool ok() const { return ok_; }

 private:
  // Before a value: separator, or misuse. False when the value must not be written.
  bool beforeValue();
  void afterValue();
  bool misuse();

  std::string out_;
  std::string stack_;        // '{' or '[' per open container, innermost last
  bool need_comma_ = false;  // the current container already holds an element
  bool after_key_ = false;   // a key was written; its value is next
  bool top_done_ = false;    // the top-level value is complete
  bool ok_ = true;
};

}  // namespace push
