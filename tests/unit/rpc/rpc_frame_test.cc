#include "common/rpc/detail/frame.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace push::rpc::detail
