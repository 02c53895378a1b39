#include "common/rpc/detail/frame.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "proto/rpc.pb.h"

namespace push::rpc::detail {
namespace {

std::string frame(uint8_t flags, uint32_t meta, uint32_t body) {
  std::string out(kHeaderBytes, '\0');
  writeHeader(FrameHeader{flags, meta, body}, out.data());
  return out;
}

TEST(RpcFrameTest, RoundTripsHeader) {
  std::string h = frame(kFlagResponse, 7, 300);
  FrameHeader parsed;
  ASSERT_EQ(parseHeader(h.data(), h.size(), 1 << 20, &parsed), HeaderStatus::Ok);
  EXPECT_EQ(parsed.flags, kFlagResponse);
  EXPECT_EQ(parsed.meta_len, 7u);
  EXPECT_EQ(parsed.body_len, 300u);
  EXPECT_EQ(parsed.frameBytes(), kHeaderBytes + 307);
}

TEST(RpcFrameTest, PartialHeaderIsIncompleteButGarbageIsRejectedAtOnce) {
  std::string h = frame(0, 1, 1);
  FrameHeader parsed;
  for (size_t n = 0; n < kHeaderBytes; ++n) {
    EXPECT_EQ(parseHeader(h.data(), n, 1 << 20, &parsed), HeaderStatus::Incomplete) << n;
  }
  EXPECT_EQ(parseHeader("G", 1, 1 << 20, &parsed), HeaderStatus::BadMagic);
  EXPECT_EQ(parseHeader("PX", 2, 1 << 20, &parsed), HeaderStatus::BadMagic);
  std::string http = "GET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(parseHeader(http.data(), http.size(), 1 << 20, &parsed), HeaderStatus::BadMagic);
}

TEST(RpcFrameTest, RejectsUnknownVersionFlagsAndOversizedFrames) {
  FrameHeader parsed;
  std::string h = frame(0, 1, 1);
  h[2] = 2;
  EXPECT_EQ(parseHeader(h.data(), h.size(), 1 << 20, &parsed), HeaderStatus::BadVersion);
  h = frame(0x80, 1, 1);
  EXPECT_EQ(parseHeader(h.data(), h.size(), 1 << 20, &parsed), HeaderStatus::BadVersion);
  h = frame(0, 0xffffffff, 0xffffffff);  // no overflow: sizes add in 64 bits
  EXPECT_EQ(parseHeader(h.data(), h.size(), 1 << 20, &parsed), HeaderStatus::TooLarge);
  h = frame(0, 10, (1 << 20) - kHeaderBytes - 10 + 1);
  EXPECT_EQ(parseHeader(h.data(), h.size(), 1 << 20, &parsed), HeaderStatus::TooLarge);
  h = frame(0, 10, (1 << 20) - kHeaderBytes - 10);
  EXPECT_EQ(parseHeader(h.data(), h.size(), 1 << 20, &parsed), HeaderStatus::Ok);
}

TEST(RpcFrameTest, RequestMetaBoundCoversTheWidestMeta) {
  for (size_t len : {0u, 5u, 26u, 127u, 128u, 300u, 20000u}) {
    RpcMeta meta;
    meta.set_request_id(std::numeric_limits<uint64_t>::max());
    meta.set_method(std::string(len, 'm'));
    meta.set_timeout_ms(std::numeric_limits<uint32_t>::max());
    EXPECT_LE(meta.ByteSizeLong(), requestMetaBound(len)) << len;
    if (len > 0) {
      EXPECT_EQ(meta.ByteSizeLong(), requestMetaBound(len)) << len;  // tight at the widest
    }
    meta.set_request_id(1);
    meta.set_timeout_ms(0);
    EXPECT_LT(meta.ByteSizeLong(), requestMetaBound(len)) << len;
  }
}

bool parsesAsProto3String(const std::string& s) {
  RpcMeta meta;
  meta.set_error(s);
  RpcMeta back;
  return back.ParseFromString(meta.SerializeAsString());
}

TEST(RpcFrameTest, BoundedErrorTextIsValidUtf8AndShort) {
  EXPECT_EQ(boundedErrorText("plain text"), "plain text");
  EXPECT_EQ(boundedErrorText("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");  // 2-, 3- and 4-byte characters kept
  EXPECT_EQ(boundedErrorText("a\xff\xfe"
                             "b"),
            "a??b");
  EXPECT_EQ(boundedErrorText("cut \xe2\x82"), "cut ??");    // truncated sequence
  EXPECT_EQ(boundedErrorText("\xc0\xaf"), "??");            // overlong '/'
  EXPECT_EQ(boundedErrorText("\xed\xa0\x80"), "???");       // surrogate
  EXPECT_EQ(boundedErrorText("\xf4\x90\x80\x80"), "????");  // above U+10FFFF
  EXPECT_EQ(boundedErrorText(std::string("nul\0inside", 11)), std::string("nul\0inside", 11));
  for (const std::string& bad : {std::string("a\xff\xfe"
                                             "b"),
                                 std::string("\xed\xa0\x80"), std::string("\xc0\xaf")}) {
    EXPECT_FALSE(parsesAsProto3String(bad));
    EXPECT_TRUE(parsesAsProto3String(boundedErrorText(bad)));
  }

  const std::string longer(3000, 'x');
  EXPECT_EQ(boundedErrorText(longer).size(), kMaxErrorBytes);
  // Cut at a character boundary: 1023 ASCII bytes then a 2-byte character does not fit.
  const std::string edge = std::string(kMaxErrorBytes - 1, 'x') + "\xc3\xa9";
  EXPECT_EQ(boundedErrorText(edge), std::string(kMaxErrorBytes - 1, 'x'));
  EXPECT_TRUE(parsesAsProto3String(boundedErrorText(edge)));
}

}  // namespace
}  // namespace push::rpc::detail
