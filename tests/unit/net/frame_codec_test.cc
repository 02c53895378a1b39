#include "common/net/frame_codec.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace push::net {
namespace {

std::string frame(std::string_view payload) {
  std::string out(kLengthPrefixBytes, '\0');
  encodeLengthPrefix(static_cast<uint32_t>(payload.size()), out.data());
  out += payload;
  return out;
}

// Decodes every complete frame at the front of `in`; removes them; returns the payloads.
std::vector<std::string> drain(std::string* in, size_t max_payload, FrameStatus* last) {
  std::vector<std::string> out;
  for (;;) {
    FrameView f;
    *last = decodeLengthPrefixed(in->data(), in->size(), max_payload, &f);
    if (*last != FrameStatus::Complete) return out;
    out.emplace_back(f.payload, f.size);
    in->erase(0, f.consumed);
  }
}

TEST(FrameCodecTest, HeaderIsBigEndian) {
  char h[4];
  encodeLengthPrefix(0x01020304, h);
  EXPECT_EQ(std::string(h, 4), std::string("\x01\x02\x03\x04", 4));
  EXPECT_EQ(loadBe32(h), 0x01020304u);
  storeBe32(0xfffffffe, h);
  EXPECT_EQ(static_cast<unsigned char>(h[0]), 0xff);
  EXPECT_EQ(static_cast<unsigned char>(h[3]), 0xfe);
  EXPECT_EQ(loadBe32(h), 0xfffffffeu);
}

TEST(FrameCodecTest, OneCompleteFrame) {
  std::string in = frame("hello");
  FrameView f;
  ASSERT_EQ(decodeLengthPrefixed(in.data(), in.size(), 1024, &f), FrameStatus::Complete);
  EXPECT_EQ(std::string(f.payload, f.size), "hello");
  EXPECT_EQ(f.payload, in.data() + 4);  // a view into the input, no copy
  EXPECT_EQ(f.consumed, 9u);
}

TEST(FrameCodecTest, SeveralFramesInOneBuffer) {
  std::string in = frame("a") + frame("") + frame("third frame") + frame("xy").substr(0, 3);
  FrameStatus last;
  auto payloads = drain(&in, 1024, &last);
  EXPECT_EQ(payloads, (std::vector<std::string>{"a", "", "third frame"}));
  EXPECT_EQ(last, FrameStatus::Incomplete);
  EXPECT_EQ(in.size(), 3u);  // the partial header of the fourth frame stays
}

TEST(FrameCodecTest, ZeroLengthFrameIsComplete) {
  std::string in = frame("");
  FrameView f;
  ASSERT_EQ(decodeLengthPrefixed(in.data(), in.size(), 0, &f), FrameStatus::Complete);
  EXPECT_EQ(f.size, 0u);
  EXPECT_EQ(f.consumed, 4u);
}

TEST(FrameCodecTest, PartialHeaderIsIncomplete) {
  std::string in = frame("payload");
  for (size_t n = 0; n < kLengthPrefixBytes; ++n) {
    FrameView f;
    EXPECT_EQ(decodeLengthPrefixed(in.data(), n, 1024, &f), FrameStatus::Incomplete) << n;
  }
  FrameView untouched;
  decodeLengthPrefixed(in.data(), 2, 1024, &untouched);
  EXPECT_EQ(untouched.payload, nullptr);  // `out` is only filled on Complete
  EXPECT_EQ(untouched.consumed, 0u);
}

TEST(FrameCodecTest, PartialPayloadIsIncomplete) {
  std::string in = frame("0123456789");
  for (size_t n = kLengthPrefixBytes; n < in.size(); ++n) {
    FrameView f;
    EXPECT_EQ(decodeLengthPrefixed(in.data(), n, 1024, &f), FrameStatus::Incomplete) << n;
  }
  FrameView f;
  EXPECT_EQ(decodeLengthPrefixed(in.data(), in.size(), 1024, &f), FrameStatus::Complete);
}

TEST(FrameCodecTest, InputFedByteByByte) {
  // Three frames arrive one byte at a time, as a slow network would deliver them.
  const std::string wire = frame("first") + frame("") + frame(std::string(300, 'z'));
  std::string buffered;
  std::vector<std::string> got;
  for (char c : wire) {
    buffered.push_back(c);
    FrameStatus last;
    for (auto& p : drain(&buffered, 1024, &last))
      got.push_back(p);
    ASSERT_EQ(last, FrameStatus::Incomplete);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"first", "", std::string(300, 'z')}));
  EXPECT_TRUE(buffered.empty());
}

TEST(FrameCodecTest, TooLargeIsDecidedFromTheHeaderAlone) {
  // Only the 4 header bytes have arrived; the announced payload is over the limit.
  char header[4];
  encodeLengthPrefix(1025, header);
  FrameView f;
  EXPECT_EQ(decodeLengthPrefixed(header, 4, 1024, &f), FrameStatus::TooLarge);
  // Exactly the limit is fine (and incomplete until the payload is there).
  encodeLengthPrefix(1024, header);
  EXPECT_EQ(decodeLengthPrefixed(header, 4, 1024, &f), FrameStatus::Incomplete);
  // A 4 GiB announcement never makes anyone wait for it.
  encodeLengthPrefix(0xffffffff, header);
  EXPECT_EQ(decodeLengthPrefixed(header, 4, 64 << 10, &f), FrameStatus::TooLarge);
}

TEST(FrameCodecTest, TooLargeAfterGoodFrames) {
  std::string in = frame("ok") + frame(std::string(2000, 'x'));
  FrameStatus last;
  auto payloads = drain(&in, 1000, &last);
  EXPECT_EQ(payloads, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(last, FrameStatus::TooLarge);
}

TEST(FrameCodecTest, GarbageIsRejectedAsTooLarge) {
  // A client speaking HTTP (or random bytes) announces an absurd length.
  const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  FrameView f;
  EXPECT_EQ(decodeLengthPrefixed(http.data(), http.size(), 64 << 10, &f), FrameStatus::TooLarge);
  const std::string tls = "\x16\x03\x01\x02\x00";
  EXPECT_EQ(decodeLengthPrefixed(tls.data(), tls.size(), 64 << 10, &f), FrameStatus::TooLarge);
}

TEST(FrameCodecTest, NeverReadsPastLen) {
  // The header claims 3 bytes but only 2 are in range; the byte after `len` is poison.
  std::string in = frame("abc");
  in.back() = '!';
  FrameView f;
  EXPECT_EQ(decodeLengthPrefixed(in.data(), in.size() - 1, 1024, &f), FrameStatus::Incomplete);
}

}  // namespace
}  // namespace push::net
