#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "proto/client.pb.h"

namespace push::auth {

// Client tokens (sdk/PROTOCOL.md): "<base64url(claims)>.<hex(HMAC-SHA256(secret, claims))>",
// where claims is the JSON object {"app":"...","user":"...","device":"...","exp":<unix s>}
// and the HMAC is over the exact claims bytes (the decoded base64url).
struct TokenClaims {
  std::string app;
  std::string user;
  std::string device;
  int64_t exp = 0;  // unix seconds
};

// Reads the claims without checking the signature (to find the app, whose secret checks it).
// ERROR_BAD_TOKEN with a reason on malformed input.
client::ErrorCode parseToken(std::string_view token, TokenClaims* claims, std::string* claims_json,
                             std::string* why);

// The second half of verifyToken(), for a caller that already ran parseToken() (to find the
// app's secret) and should not parse again: signature over `claims_json` with `secret`
// (constant-time compare) and expiry against `now_s`.
client::ErrorCode checkToken(std::string_view token, std::string_view claims_json,
                             const TokenClaims& claims, std::string_view secret, int64_t now_s,
                             std::string* why);

// Full check: parse, signature with `secret` (constant-time compare) and expiry against
// `now_s`. Returns ERROR_NONE, ERROR_BAD_TOKEN or ERROR_TOKEN_EXPIRED.
client::ErrorCode verifyToken(std::string_view token, std::string_view secret, int64_t now_s,
                              TokenClaims* claims, std::string* why);

// The rules a room checks on app, user and device (1..kMaxClaimBytes bytes of valid UTF-8, no
// control characters): INVALID_ARGUMENT naming the first claim that breaks them.
Status checkClaims(const TokenClaims& claims);

// Mints a token (the app server's side; tools and tests use it). The claims JSON has a fixed
// key order, so the same claims always give the same token. The claims must pass
// checkClaims(): check input you did not make yourself first (JSON escaping writes each byte
// of invalid UTF-8 as U+FFFD, so such a token would name other bytes than the ones given).
std::string mintToken(std::string_view secret, const TokenClaims& claims);

// Limits on claim fields: 1..128 bytes each, no control characters.
constexpr size_t kMaxClaimBytes = 128;
constexpr size_t kMaxTokenBytes = 1024;

}  // namespace push::auth
