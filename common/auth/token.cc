#include "common/auth/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/base/json_reader.h"

namespace push::auth {
namespace {

constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kB64Url[v >> 18];
    out += kB64Url[(v >> 12) & 63];
    out += kB64Url[(v >> 6) & 63];
    out += kB64Url[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kB64Url[v >> 18];
    out += kB64Url[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64Url[v >> 18];
    out += kB64Url[(v >> 12) & 63];
    out += kB64Url[(v >> 6) & 63];
  }
  return out;  // unpadded, as base64url usually is
}

bool base64UrlDecode(std::string_view in, std::string* out) {
  while (!in.empty() && in.back() == '=')
    in.remove_suffix(1);  // tolerate padding
  if (in.size() % 4 == 1) return false;
  out->clear();
  out->reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

std::string hmacHex(std::string_view secret, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

bool validClaim(const std::string& v) {
  if (v.empty() || v.size() > kMaxClaimBytes) return false;
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return isValidUtf8(v);  // claims travel in protobuf string fields
}

}  // namespace

client::ErrorCode parseToken(std::string_view token, TokenClaims* claims, std::string* claims_json,
                             std::string* why) {
  if (token.empty()) {
    *why = "empty token";
    return client::ERROR_BAD_TOKEN;
  }
  if (token.size() > kMaxTokenBytes) {
    *why = "token longer than " + std::to_string(kMaxTokenBytes) + " bytes";
    return client::ERROR_BAD_TOKEN;
  }
  size_t dot = token.find('.');
  if (dot == std::string_view::npos || token.find('.', dot + 1) != std::string_view::npos) {
    *why = "token must be <claims>.<signature>";
    return client::ERROR_BAD_TOKEN;
  }
  if (!base64UrlDecode(token.substr(0, dot), claims_json)) {
    *why = "claims are not base64url";
    return client::ERROR_BAD_TOKEN;
  }
  // Claims are parsed with the small pull parser (protobuf's JSON-to-Struct cost ~100k
  // instructions per auth, which a reconnect storm multiplies).
  JsonReader r(*claims_json);
  bool have_app = false, have_user = false, have_device = false, have_exp = false;
  std::string key;
  Status st = r.beginObject();
  while (st.isOk() && r.nextKey(&key)) {
    // A claim given twice is refused: a verifier that keeps the first and one that keeps the
    // last would read different identities from the same signed bytes.
    if ((key == "app" && have_app) || (key == "user" && have_user) ||
        (key == "device" && have_device) || (key == "exp" && have_exp)) {
      *why = "claims give '" + key + "' twice";
      return client::ERROR_BAD_TOKEN;
    }
    if (key == "app") {
      st = r.readString(&claims->app);
      have_app = true;
    } else if (key == "user") {
      st = r.readString(&claims->user);
      have_user = true;
    } else if (key == "device") {
      st = r.readString(&claims->device);
      have_device = true;
    } else if (key == "exp") {
      uint64_t exp = 0;
      // sdk/PROTOCOL.md 4: a JSON number, a fraction truncated (1700000000.9 -> 1700000000).
      st = r.readUintTruncated(&exp, 1'000'000'000'000ULL);
      claims->exp = static_cast<int64_t>(exp);
      have_exp = true;
    } else {
      st = r.skipValue();  // claims an app server adds for itself
    }
  }
  if (st.isOk()) st = r.finish();
  if (!st.isOk()) {
    *why = "claims are not a valid JSON object: " + st.message();
    return client::ERROR_BAD_TOKEN;
  }
  if (!have_app || !have_user || !have_device || !validClaim(claims->app) ||
      !validClaim(claims->user) || !validClaim(claims->device)) {
    *why = "claims need string fields app, user, device (1..128 printable UTF-8 bytes)";
    return client::ERROR_BAD_TOKEN;
  }
  if (!have_exp) {
    *why = "claims need a numeric exp (unix seconds)";
    return client::ERROR_BAD_TOKEN;
  }
  return client::ERROR_NONE;
}

client::ErrorCode checkToken(std::string_view token, std::string_view claims_json,
                             const TokenClaims& claims, std::string_view secret, int64_t now_s,
                             std::string* why) {
  std::string_view signature = token.substr(token.find('.') + 1);
  const std::string expected = hmacHex(secret, claims_json);
  if (signature.size() != expected.size() ||
      CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) != 0) {
    *why = "signature does not match";
    return client::ERROR_BAD_TOKEN;
  }
  if (claims.exp <= now_s) {
    *why = "token expired " + std::to_string(now_s - claims.exp) + " s ago";
    return client::ERROR_TOKEN_EXPIRED;
  }
  return client::ERROR_NONE;
}

client::ErrorCode verifyToken(std::string_view token, std::string_view secret, int64_t now_s,
                              TokenClaims* claims, std::string* why) {
  std::string claims_json;
  client::ErrorCode code = parseToken(token, claims, &claims_json, why);
  if (code != client::ERROR_NONE) return code;
  return checkToken(token, claims_json, *claims, secret, now_s, why);
}

Status checkClaims(const TokenClaims& claims) {
  for (auto [name, value] : {std::pair{"app", &claims.app}, std::pair{"user", &claims.user},
                             std::pair{"device", &claims.device}}) {
    if (!validClaim(*value)) {
      return invalidArgument(std::string(name) + ": 1.." + std::to_string(kMaxClaimBytes) +
                             " bytes of UTF-8 without control characters");
    }
  }
  return Status::ok();
}

std::string mintToken(std::string_view secret, const TokenClaims& claims) {
  std::string json = "{\"app\":";
  appendJsonString(&json, claims.app);
  json += ",\"user\":";
  appendJsonString(&json, claims.user);
  json += ",\"device\":";
  appendJsonString(&json, claims.device);
  json += ",\"exp\":" + std::to_string(claims.exp) + "}";
  return base64UrlEncode(json) + "." + hmacHex(secret, json);
}

}  // namespace push::auth
