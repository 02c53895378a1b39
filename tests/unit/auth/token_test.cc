#include "common/auth/token.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

namespace push::auth {
namespace {

constexpr char kSecret[] = "0123456789abcdef-secret";
constexpr int64_t kNow = 1'700'000'000;

TokenClaims claims(std::string app = "app", std::string user = "alice",
                   std::string device = "phone", int64_t exp = kNow + 3600) {
  return TokenClaims{std::move(app), std::move(user), std::move(device), exp};
}

// Independent helpers: a token from arbitrary claims bytes, signed with `secret`.
std::string base64Url(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!out.empty() && out.back() == '=')
    out.pop_back();
  return out;
}

std::string hmacHex(const std::string& secret, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

std::string tokenOf(const std::string& claims_json, const std::string& secret = kSecret) {
  return base64Url(claims_json) + "." + hmacHex(secret, claims_json);
}

client::ErrorCode verify(const std::string& token, std::string* why = nullptr,
                         TokenClaims* out = nullptr) {
  TokenClaims c;
  std::string w;
  client::ErrorCode code = verifyToken(token, kSecret, kNow, out ? out : &c, why ? why : &w);
  return code;
}

TEST(TokenTest, MintedTokenVerifies) {
  const std::string token = mintToken(kSecret, claims());
  TokenClaims out;
  std::string why;
  ASSERT_EQ(verify(token, &why, &out), client::ERROR_NONE) << why;
  EXPECT_EQ(out.app, "app");
  EXPECT_EQ(out.user, "alice");
  EXPECT_EQ(out.device, "phone");
  EXPECT_EQ(out.exp, kNow + 3600);
  EXPECT_EQ(token.find('='), std::string::npos);  // base64url without padding
  EXPECT_EQ(token.find('+'), std::string::npos);
  EXPECT_EQ(token.find('/'), std::string::npos);
}

TEST(TokenTest, ParseReadsClaimsWithoutTheSecret) {
  const std::string token = mintToken(kSecret, claims("other", "bob", "tv", kNow - 5));
  TokenClaims out;
  std::string json, why;
  ASSERT_EQ(parseToken(token, &out, &json, &why), client::ERROR_NONE) << why;
  EXPECT_EQ(out.app, "other");
  EXPECT_EQ(out.user, "bob");
  EXPECT_EQ(out.exp, kNow - 5);  // parse does not check expiry
  EXPECT_NE(json.find("\"user\""), std::string::npos);
}

TEST(TokenTest, UnicodeClaimsRoundTrip) {
  const std::string token = mintToken(kSecret, claims("app", "j\xc3\xbcrgen \"q\" \\", "d"));
  TokenClaims out;
  std::string why;
  ASSERT_EQ(verify(token, &why, &out), client::ERROR_NONE) << why;
  EXPECT_EQ(out.user, "j\xc3\xbcrgen \"q\" \\");
}

TEST(TokenTest, WrongSecretIsRefused) {
  const std::string token = mintToken("another-secret-of-16+", claims());
  std::string why;
  EXPECT_EQ(verify(token, &why), client::ERROR_BAD_TOKEN);
  EXPECT_NE(why.find("signature"), std::string::npos) << why;
}

TEST(TokenTest, TamperedClaimsAreRefused) {
  const std::string good = mintToken(kSecret, claims());
  const std::string signature = good.substr(good.find('.') + 1);
  // Same signature, claims naming another user.
  const std::string forged = mintToken(kSecret, claims("app", "mallory"));
  const std::string tampered = forged.substr(0, forged.find('.')) + "." + signature;
  std::string why;
  EXPECT_EQ(verify(tampered, &why), client::ERROR_BAD_TOKEN);
  EXPECT_NE(why.find("signature"), std::string::npos) << why;
  // A flipped signature digit, an uppercase signature, a truncated one.
  std::string flipped = good;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_EQ(verify(flipped), client::ERROR_BAD_TOKEN);
  std::string upper = good;
  for (size_t i = good.find('.') + 1; i < upper.size(); ++i) {
    upper[i] = static_cast<char>(toupper(upper[i]));
  }
  ASSERT_NE(upper, good);  // 64 hex digits: some are letters (or the test needs new claims)
  EXPECT_EQ(verify(upper), client::ERROR_BAD_TOKEN);
  EXPECT_EQ(verify(good.substr(0, good.size() - 2)), client::ERROR_BAD_TOKEN);
  EXPECT_EQ(verify(good.substr(0, good.find('.') + 1)), client::ERROR_BAD_TOKEN);
}

TEST(TokenTest, ExpiredTokenIsRefusedAsExpired) {
  std::string why;
  EXPECT_EQ(verify(mintToken(kSecret, claims("app", "alice", "phone", kNow - 10)), &why),
            client::ERROR_TOKEN_EXPIRED);
  EXPECT_NE(why.find("expired 10 s ago"), std::string::npos) << why;
  EXPECT_EQ(verify(mintToken(kSecret, claims("app", "alice", "phone", kNow))),
            client::ERROR_TOKEN_EXPIRED);  // exp is exclusive
  EXPECT_EQ(verify(mintToken(kSecret, claims("app", "alice", "phone", kNow + 1))),
            client::ERROR_NONE);
}

TEST(TokenTest, MissingOrBadFieldsAreRefused) {
  const std::vector<std::string> bad_claims = {
      R"({"user":"alice","device":"phone","exp":1800000000})",                // no app
      R"({"app":"app","device":"phone","exp":1800000000})",                   // no user
      R"({"app":"app","user":"alice","exp":1800000000})",                     // no device
      R"({"app":"app","user":"alice","device":"phone"})",                     // no exp
      R"({"app":"","user":"alice","device":"phone","exp":1800000000})",       // empty app
      R"({"app":1,"user":"alice","device":"phone","exp":1800000000})",        // not a string
      R"({"app":"app","user":"alice","device":"phone","exp":"1800000000"})",  // exp a string
      R"({"app":"app","user":"alice","device":"phone","exp":-1})",
      R"({"app":"app","user":"alice","device":"phone","exp":1e13})",
      R"(["app","alice"])",
      R"(not json)",
      "",
  };
  for (const std::string& json : bad_claims) {
    std::string why;
    EXPECT_EQ(verify(tokenOf(json), &why), client::ERROR_BAD_TOKEN) << json;
    EXPECT_FALSE(why.empty()) << json;
  }
  // Extra fields are fine.
  std::string why;
  EXPECT_EQ(verify(tokenOf(R"({"app":"app","user":"alice","device":"phone","exp":1800000000,)"
                           R"("extra":{"x":1}})"),
                   &why),
            client::ERROR_NONE)
      << why;
}

TEST(TokenTest, ExpIsAnyJsonNumberWithTheFractionTruncated) {
  // sdk/PROTOCOL.md 4: "exp: a JSON number, 0..10^12 (a fraction is truncated)".
  TokenClaims out;
  std::string why;
  const std::string future = std::to_string(kNow + 100);
  EXPECT_EQ(
      verify(tokenOf(R"({"app":"app","user":"alice","device":"phone","exp":)" + future + ".75}"),
             &why, &out),
      client::ERROR_NONE)
      << why;
  EXPECT_EQ(out.exp, kNow + 100);
  EXPECT_EQ(
      verify(tokenOf(R"({"app":"app","user":"alice","device":"phone","exp":1.8e9})"), &why, &out),
      client::ERROR_NONE)
      << why;
  EXPECT_EQ(out.exp, 1'800'000'000);
  // Truncation, not rounding: kNow + 0.99 is kNow, which has expired.
  EXPECT_EQ(verify(tokenOf(R"({"app":"app","user":"alice","device":"phone","exp":)" +
                           std::to_string(kNow) + ".99}")),
            client::ERROR_TOKEN_EXPIRED);
}

TEST(TokenTest, CheckClaimsAppliesTheRoomsRules) {
  EXPECT_TRUE(checkClaims(claims()).isOk());
  EXPECT_TRUE(checkClaims(claims("app", "\xc3\xa9l\xc3\xa8ve")).isOk());  // UTF-8
  for (const TokenClaims& bad :
       {claims(""), claims("app", "bad\xff"), claims("app", "a", "ph\none"),
        claims("app", std::string(kMaxClaimBytes + 1, 'u'))}) {
    Status st = checkClaims(bad);
    EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT) << bad.app << "/" << bad.user << "/" << bad.device;
  }
  EXPECT_NE(checkClaims(claims("app", "bad\xff")).message().find("user"), std::string::npos);
}

TEST(TokenTest, ClaimsGivenTwiceAreRefused) {
  // {"user":"alice","user":"admin"}: one reader keeps the first, another the last; the same
  // signed bytes must not name two identities.
  for (const char* json : {
           R"({"app":"app","user":"alice","user":"admin","device":"phone","exp":1800000000})",
           R"({"app":"app","app":"other","user":"alice","device":"phone","exp":1800000000})",
           R"({"app":"app","user":"alice","device":"a","device":"b","exp":1800000000})",
           R"({"app":"app","user":"alice","device":"phone","exp":1800000000,"exp":1})",
       }) {
    std::string why;
    EXPECT_EQ(verify(tokenOf(json), &why), client::ERROR_BAD_TOKEN) << json;
    EXPECT_NE(why.find("twice"), std::string::npos) << why;
  }
}

TEST(TokenTest, ControlCharactersAndOversizedClaimsAreRefused) {
  for (const std::string& user :
       {std::string("a\x01z"), std::string("tab\there"), std::string("nl\n"),
        std::string("del\x7f"), std::string("nul\0x", 5), std::string(kMaxClaimBytes + 1, 'u')}) {
    std::string why;
    EXPECT_EQ(verify(mintToken(kSecret, claims("app", user)), &why), client::ERROR_BAD_TOKEN)
        << "user of " << user.size() << " bytes";
  }
  std::string why;
  EXPECT_EQ(verify(mintToken(kSecret, claims("app", "alice", "ph\x01one")), &why),
            client::ERROR_BAD_TOKEN);
  EXPECT_NE(why.find("printable"), std::string::npos) << why;
  EXPECT_EQ(verify(mintToken(kSecret, claims("app", std::string(kMaxClaimBytes, 'u')))),
            client::ERROR_NONE);
}

TEST(TokenTest, MalformedTokensAreRefused) {
  const std::string good = mintToken(kSecret, claims());
  const std::string claims_part = good.substr(0, good.find('.'));
  const std::string sig = good.substr(good.find('.') + 1);
  struct Case {
    std::string token;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"", "empty"},
      {claims_part, "<claims>.<signature>"},                     // no dot
      {claims_part + "." + sig + ".x", "<claims>.<signature>"},  // two dots
      {"!!!!." + sig, "base64url"},
      {claims_part + "+/." + sig, "base64url"},  // standard base64 alphabet
      {"A." + sig, "base64url"},                 // 1 char mod 4: impossible
      {"ab=c." + sig, "base64url"},              // padding in the middle
      {good + std::string(kMaxTokenBytes, 'a'), "longer than"},
  };
  for (const auto& c : cases) {
    std::string why;
    EXPECT_EQ(verify(c.token, &why), client::ERROR_BAD_TOKEN) << c.token.substr(0, 80);
    EXPECT_NE(why.find(c.why), std::string::npos) << why;
  }
}

TEST(TokenTest, TokenOfExactlyTheMaximumLengthIsParsed) {
  // 719 claims bytes -> 959 base64url characters + '.' + 64 hex digits = 1024.
  std::string json = R"({"app":"app","user":"alice","device":"phone","exp":1800000000,"pad":"")";
  json.insert(json.size() - 1, std::string(719 - json.size() - 1, 'x'));
  json += "}";
  ASSERT_EQ(json.size(), 719u);
  const std::string token = tokenOf(json);
  ASSERT_EQ(token.size(), kMaxTokenBytes);
  std::string why;
  EXPECT_EQ(verify(token, &why), client::ERROR_NONE) << why;
  EXPECT_EQ(verify(token + "0", &why), client::ERROR_BAD_TOKEN);
  EXPECT_NE(why.find("longer than 1024"), std::string::npos) << why;
}

TEST(TokenTest, PaddingIsTolerated) {
  // Claims whose base64 needs padding, once with '=' added by a client library.
  for (const char* user : {"a", "ab", "abc", "abcd"}) {
    const std::string token = mintToken(kSecret, claims("app", user));
    const size_t dot = token.find('.');
    const std::string claims_part = token.substr(0, dot);
    std::string padded = claims_part;
    while (padded.size() % 4 != 0)
      padded += '=';
    std::string why;
    EXPECT_EQ(verify(padded + token.substr(dot), &why), client::ERROR_NONE) << why;
  }
}

}  // namespace
}  // namespace push::auth
