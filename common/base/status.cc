#include "common/base/status.h"

namespace push {

std::string_view codeName(Code code) {
  switch (code) {
    case Code::OK: return "OK";
    case Code::TIMEOUT: return "TIMEOUT";
    case Code::UNAVAILABLE: return "UNAVAILABLE";
    case Code::OVERLOADED: return "OVERLOADED";
    case Code::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case Code::NOT_FOUND: return "NOT_FOUND";
    case Code::INTERNAL: return "INTERNAL";
    case Code::CANCELLED: return "CANCELLED";
    case Code::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case Code::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case Code::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case Code::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case Code::RATE_LIMITED: return "RATE_LIMITED";
    case Code::PROTOCOL_ERROR: return "PROTOCOL_ERROR";
    default: return "UNKNOWN";
  }
}

std::string Status::toString() const {
  std::string out(codeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Status Status::withContext(std::string_view context) const {
  if (isOk()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

std::ostream& operator<<(std::ostream& os, const Status& status) { return os << status.toString(); }

}  // namespace push
