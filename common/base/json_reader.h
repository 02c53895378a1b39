#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/json_writer.h"  // appendJsonString, for callers that include only this
#include "common/base/status.h"

namespace push {

// A pull parser for JSON request bodies on hot paths, where protobuf's JSON mapping costs tens
// of thousands of instructions per request. No DOM, no allocation except for decoded strings.
// RFC 8259: strings with every escape (\uXXXX and surrogate pairs -> UTF-8), numbers,
// true/false/null, nesting up to 64 levels. Errors carry the byte offset.
//
//   JsonReader r(body);
//   RETURN_IF_ERROR(r.beginObject());
//   std::string key;
//   while (r.nextKey(&key)) {              // false at '}' (or on error: check r.status())
//     if (key == "app") RETURN_IF_ERROR(r.readString(&app));
//     else RETURN_IF_ERROR(r.skipValue());
//   }
//   RETURN_IF_ERROR(r.finish());          // the object closed cleanly, nothing after it
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  Status beginObject();
  // Next key of the current object into `key`; false at its end or on error.
  bool nextKey(std::string* key);
  Status beginArray();
  // True when the current array has another element (positioned on it); false at its end.
  bool nextElement();

  Status readString(std::string* out);
  Status readUint(uint64_t* out, uint64_t max);
  // An integer in [min, max], optionally negative; fractions and exponents are errors.
  Status readInt(int64_t* out, int64_t min, int64_t max);
  // Any JSON number (fraction, exponent) in [0, max], truncated toward zero: 1.9 -> 1,
  // 2e3 -> 2000. Negative numbers and numbers over `max` are errors.
  Status readUintTruncated(uint64_t* out, uint64_t max);
  Status readBool(bool* out);
  bool isNull();  // consumes a null
  Status skipValue();

  // OK when no error occurred and only whitespace follows the top-level value.
  Status finish();
  const Status& status() const { return status_; }

 private:
  void skipSpace();
  Status fail(std::string what);
  bool consume(char c);
  Status skipDepth(int depth);

  std::string_view text_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool first_ = true;  // no element/key read yet in the current container
  Status status_;
};

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or values over U+10FFFF).
bool isValidUtf8(std::string_view s);

}  // namespace push
