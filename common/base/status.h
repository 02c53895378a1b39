#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "proto/status.pb.h"

namespace push {

// The outcome of a fallible operation: a code from proto/status.proto and, when not OK, a
// message for humans. Cheap when OK (no allocation). Returned by value across every module
// boundary instead of exceptions.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool isOk() const { return code_ == Code::OK; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "TIMEOUT: no reply within 100 ms" (or "OK").
  std::string toString() const;

  // Prepends context: "loading room.conf: <message>". No-op on OK.
  Status withContext(std::string_view context) const;

  bool operator==(const Status& other) const = default;

 private:
  Code code_ = Code::OK;
  std::string message_;
};

// Short names for the common cases, so call sites read as prose.
inline Status invalidArgument(std::string msg) { return {Code::INVALID_ARGUMENT, std::move(msg)}; }
inline Status notFound(std::string msg) { return {Code::NOT_FOUND, std::move(msg)}; }
inline Status unavailable(std::string msg) { return {Code::UNAVAILABLE, std::move(msg)}; }
inline Status internalError(std::string msg) { return {Code::INTERNAL, std::move(msg)}; }

// "TIMEOUT", "UNAVAILABLE", ...
std::string_view codeName(Code code);

std::ostream& operator<<(std::ostream& os, const Status& status);

}  // namespace push

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                       \
  do {                                              \
    ::push::Status push_status_ = (expr);           \
    if (!push_status_.isOk()) return push_status_; \
  } while (0)
