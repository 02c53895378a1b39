#pragma once

#include <cassert>
#include <optional>
#include <utility>

#include "common/base/status.h"

namespace push {

// A value of type T, or the Status that explains why there is none. Never holds an OK Status
// without a value.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.isOk() && "Result built from an OK Status has no value");
    if (status_.isOk()) status_ = Status(Code::INTERNAL, "Result from OK status without value");
  }

  bool isOk() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(isOk());
    return *value_;
  }
  const T& value() const& {
    assert(isOk());
    return *value_;
  }
  T&& value() && {
    assert(isOk());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace push

#define PUSH_CONCAT_INNER(a, b) a##b
#define PUSH_CONCAT(a, b) PUSH_CONCAT_INNER(a, b)

// ASSIGN_OR_RETURN(auto conn, connect(...)); returns the Status on failure.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(PUSH_CONCAT(push_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)   \
  auto tmp = (expr);                            \
  if (!tmp.isOk()) return std::move(tmp).status(); \
  lhs = std::move(tmp).value()
