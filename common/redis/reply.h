#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace push::redis {

// One RESP reply, converted from hiredis's redisReply (common/redis/redis_client.cc). A top-level
// error reply never becomes a Reply: RedisClient completes that command with a Status. Inside
// an array (EXEC, a Lua table) an error stays an element of type Error.
struct Reply {
  enum class Type : uint8_t { Nil, Status, Integer, String, Array, Error };
  Type type = Type::Nil;
  int64_t integer = 0;          // Integer
  std::string str;              // Status, String, Error
  std::vector<Reply> elements;  // Array

  bool isNil() const { return type == Type::Nil; }
  bool isInteger() const { return type == Type::Integer; }
  bool isString() const { return type == Type::String || type == Type::Status; }
  bool isArray() const { return type == Type::Array; }
};

}  // namespace push::redis
