// Tests for common/queue/wire: NSQ protocol V2 encoding and parsing (message ids, frames, message
// headers, command lines, sized bodies, MPUB bodies, topic/channel names).

#include "common/queue/wire.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace push::queue::wire {
namespace {

using namespace std::literals;

std::string idText(uint64_t id) {
  MessageId formatted = formatMessageId(id);
  return std::string(formatted.data(), formatted.size());
}

std::string u32(uint32_t v) {
  std::string out(4, '\0');
  putU32(out.data(), v);
  return out;
}

// ---- message ids ----

TEST(MessageIdTest, FormatsSixteenLowercaseHexDigits) {
  EXPECT_EQ(idText(0), "0000000000000000");
  EXPECT_EQ(idText(0x0123456789abcdefULL), "0123456789abcdef");
  EXPECT_EQ(idText(0xfedcba9876543210ULL), "fedcba9876543210");
  EXPECT_EQ(idText(UINT64_MAX), "ffffffffffffffff");
  EXPECT_EQ(idText(0x1a), "000000000000001a");
}

TEST(MessageIdTest, ParseRoundTrips) {
  for (uint64_t id : {uint64_t{0}, uint64_t{1}, uint64_t{0x1a}, uint64_t{0x0123456789abcdef},
                      uint64_t{1'750'000'000'000} << 20, UINT64_MAX - 1, UINT64_MAX}) {
    uint64_t parsed = 42;
    ASSERT_TRUE(parseMessageId(idText(id), &parsed)) << idText(id);
    EXPECT_EQ(parsed, id);
  }
  uint64_t parsed = 0;
  ASSERT_TRUE(parseMessageId("00000000000000AB", &parsed));  // upper case is hex too
  EXPECT_EQ(parsed, 0xabu);
}

TEST(MessageIdTest, ParseRejectsAnythingButSixteenHexDigits) {
  for (std::string_view bad :
       {""sv, "0"sv, "000000000000000"sv, "00000000000000000"sv, "000000000000000g"sv,
        "g000000000000000"sv, "0000000 00000000"sv, "-000000000000001"sv, "0x00000000000001"sv,
        std::string_view("00000000\0"
                         "0000000",
                         16)}) {
    uint64_t parsed = 7;
    EXPECT_FALSE(parseMessageId(bad, &parsed)) << "'" << bad << "'";
    EXPECT_EQ(parsed, 7u) << "output written on failure for '" << bad << "'";
  }
}

// ---- encoding ----

TEST(EncodingTest, U32AndU64AreBigEndian) {
  EXPECT_EQ(u32(0x01020304), "\x01\x02\x03\x04"s);
  EXPECT_EQ(getU32("\xff\xfe\xfd\xfc"), 0xfffefdfcu);
  char buf[8];
  putU64(buf, 0x0102030405060708ULL);
  EXPECT_EQ(std::string(buf, 8), "\x01\x02\x03\x04\x05\x06\x07\x08"s);
  EXPECT_EQ(getU64(buf), 0x0102030405060708ULL);
  putU64(buf, UINT64_MAX - 5);
  EXPECT_EQ(getU64(buf), UINT64_MAX - 5);
}

TEST(EncodingTest, FrameHeaderCountsTypeInSize) {
  char header[kFrameHeaderSize];
  writeFrameHeader(header, FrameType::Error, 10);
  EXPECT_EQ(std::string(header, sizeof header), "\x00\x00\x00\x0e\x00\x00\x00\x01"s);
  writeFrameHeader(header, FrameType::Message, 0x01020300);
  EXPECT_EQ(std::string(header, sizeof header), "\x01\x02\x03\x04\x00\x00\x00\x02"s);
}

TEST(EncodingTest, AppendFrameMatchesNsqdBytes) {
  // nsqd's answer to a bad magic (facts §1.1).
  std::string out = "prefix";
  appendFrame(&out, FrameType::Error, "E_BAD_PROTOCOL");
  EXPECT_EQ(out,
            "prefix\x00\x00\x00\x12\x00\x00\x00\x01"
            "E_BAD_PROTOCOL"s);
  out.clear();
  appendFrame(&out, FrameType::Response, "OK");
  EXPECT_EQ(out, "\x00\x00\x00\x06\x00\x00\x00\x00OK"s);
}

TEST(EncodingTest, MessageHeaderLayout) {
  char header[kMessageHeaderSize];
  writeMessageHeader(header, 0x0102030405060708LL, 0x0a0b, formatMessageId(0xabc));
  EXPECT_EQ(std::string(header, sizeof header),
            "\x01\x02\x03\x04\x05\x06\x07\x08\x0a\x0b"
            "0000000000000abc"s);
}

// ---- frames ----

TEST(ParseFrameTest, WholeFrameIsOk) {
  std::string wire;
  appendFrame(&wire, FrameType::Message, "payload");
  appendFrame(&wire, FrameType::Response, "OK");
  FrameView frame;
  size_t consumed = 0;
  ASSERT_EQ(parseFrame(wire, 1024, &frame, &consumed), ParseStatus::Ok);
  EXPECT_EQ(consumed, kFrameHeaderSize + 7);
  EXPECT_EQ(frame.type, FrameType::Message);
  EXPECT_EQ(frame.data, "payload");

  ASSERT_EQ(parseFrame(std::string_view(wire).substr(consumed), 1024, &frame, &consumed),
            ParseStatus::Ok);
  EXPECT_EQ(consumed, kFrameHeaderSize + 2);
  EXPECT_EQ(frame.type, FrameType::Response);
  EXPECT_EQ(frame.data, "OK");
}

TEST(ParseFrameTest, NeedMoreAtEverySplit) {
  for (FrameType type : {FrameType::Response, FrameType::Error, FrameType::Message}) {
    for (std::string data : {""s, "x"s, "E_INVALID something"s, std::string(300, 'z')}) {
      std::string wire;
      appendFrame(&wire, type, data);
      for (size_t n = 0; n < wire.size(); ++n) {
        FrameView frame;
        size_t consumed = 99;
        EXPECT_EQ(parseFrame(std::string_view(wire).substr(0, n), 1024, &frame, &consumed),
                  ParseStatus::NeedMore)
            << "prefix of " << n << " of " << wire.size();
        EXPECT_EQ(consumed, 99u);
      }
      FrameView frame;
      size_t consumed = 0;
      ASSERT_EQ(parseFrame(wire, 1024, &frame, &consumed), ParseStatus::Ok);
      EXPECT_EQ(consumed, wire.size());
      EXPECT_EQ(frame.type, type);
      EXPECT_EQ(frame.data, data);
    }
  }
}

TEST(ParseFrameTest, EmptyFrameOfSizeFourIsOk) {
  std::string wire = u32(4) + u32(0);
  FrameView frame;
  size_t consumed = 0;
  ASSERT_EQ(parseFrame(wire, 1024, &frame, &consumed), ParseStatus::Ok);
  EXPECT_EQ(consumed, 8u);
  EXPECT_TRUE(frame.data.empty());
}

TEST(ParseFrameTest, SizeBelowFourIsError) {
  for (uint32_t size : {0u, 1u, 3u}) {
    // Decided from the size field alone.
    std::string wire = u32(size);
    FrameView frame;
    size_t consumed = 0;
    EXPECT_EQ(parseFrame(wire, 1024, &frame, &consumed), ParseStatus::Error) << size;
    wire += u32(0) + "abcdefgh";
    EXPECT_EQ(parseFrame(wire, 1024, &frame, &consumed), ParseStatus::Error) << size;
  }
}

TEST(ParseFrameTest, SizeAboveMaxIsErrorAndMaxIsOk) {
  FrameView frame;
  size_t consumed = 0;
  // 101 > 100: an error as soon as the size is known, without waiting for the data.
  EXPECT_EQ(parseFrame(u32(101), 100, &frame, &consumed), ParseStatus::Error);
  EXPECT_EQ(parseFrame(u32(0xffffffff), 100, &frame, &consumed), ParseStatus::Error);
  std::string wire = u32(100) + u32(2) + std::string(96, 'm');
  ASSERT_EQ(parseFrame(wire, 100, &frame, &consumed), ParseStatus::Ok);
  EXPECT_EQ(consumed, 104u);
  EXPECT_EQ(frame.data.size(), 96u);
}

TEST(ParseFrameTest, UnknownTypeIsError) {
  for (uint32_t type : {3u, 4u, 0x80000000u, 0xffffffffu}) {
    std::string wire = u32(6) + u32(type) + "OK";
    FrameView frame;
    size_t consumed = 0;
    EXPECT_EQ(parseFrame(wire, 1024, &frame, &consumed), ParseStatus::Error) << type;
  }
}

// ---- messages ----

TEST(ParseMessageTest, ReadsHeaderAndBody) {
  std::string data(kMessageHeaderSize, '\0');
  writeMessageHeader(data.data(), 1'700'000'000'123'456'789LL, 0xabcd,
                     formatMessageId(0x0123456789abcdefULL));
  data += "hello\nworld";
  MessageView message;
  ASSERT_TRUE(parseMessage(data, &message));
  EXPECT_EQ(message.timestamp_ns, 1'700'000'000'123'456'789LL);
  EXPECT_EQ(message.attempts, 0xabcd);
  EXPECT_EQ(message.id, "0123456789abcdef");
  EXPECT_EQ(message.body, "hello\nworld");
}

TEST(ParseMessageTest, NegativeTimestampAndEmptyBody) {
  std::string data(kMessageHeaderSize, '\0');
  writeMessageHeader(data.data(), -5, 1, formatMessageId(7));
  MessageView message;
  ASSERT_TRUE(parseMessage(data, &message));
  EXPECT_EQ(message.timestamp_ns, -5);
  EXPECT_EQ(message.attempts, 1);
  EXPECT_EQ(message.id, "0000000000000007");
  EXPECT_TRUE(message.body.empty());
}

TEST(ParseMessageTest, ShorterThanHeaderIsRejected) {
  std::string data(kMessageHeaderSize, '0');
  MessageView message;
  for (size_t n = 0; n < kMessageHeaderSize; ++n) {
    EXPECT_FALSE(parseMessage(std::string_view(data).substr(0, n), &message)) << n;
  }
}

// ---- command lines ----

std::vector<std::string> params(const CommandLine& line) {
  std::vector<std::string> out;
  for (size_t i = 0; i < line.param_count; ++i)
    out.emplace_back(line.params[i]);
  return out;
}

TEST(ParseLineTest, SplitsOnSingleSpaces) {
  CommandLine line;
  ASSERT_EQ(parseLine("SUB topic chan\nNOP\n", 1024, &line), ParseStatus::Ok);
  EXPECT_EQ(line.name, "SUB");
  EXPECT_EQ(params(line), (std::vector<std::string>{"topic", "chan"}));
  EXPECT_EQ(line.size, 15u);  // the next line is not consumed
}

TEST(ParseLineTest, EmptyParamsAreKept) {
  CommandLine line;
  // nsqd: `PUB  t1` -> ["PUB", "", "t1"] (facts §1.3).
  ASSERT_EQ(parseLine("PUB  t1\n", 1024, &line), ParseStatus::Ok);
  EXPECT_EQ(line.name, "PUB");
  EXPECT_EQ(params(line), (std::vector<std::string>{"", "t1"}));

  ASSERT_EQ(parseLine("RDY \n", 1024, &line), ParseStatus::Ok);
  EXPECT_EQ(line.name, "RDY");
  EXPECT_EQ(params(line), (std::vector<std::string>{""}));

  ASSERT_EQ(parseLine(" a  \n", 1024, &line), ParseStatus::Ok);
  EXPECT_EQ(line.name, "");
  EXPECT_EQ(params(line), (std::vector<std::string>{"a", "", ""}));
}

TEST(ParseLineTest, BareCommandAndEmptyLine) {
  CommandLine line;
  ASSERT_EQ(parseLine("NOP\n", 1024, &line), ParseStatus::Ok);
  EXPECT_EQ(line.name, "NOP");
  EXPECT_EQ(line.param_count, 0u);
  EXPECT_EQ(line.size, 4u);

  line.param_count = 5;  // stale state from an earlier line must not leak
  ASSERT_EQ(parseLine("\n", 1024, &line), ParseStatus::Ok);
  EXPECT_EQ(line.name, "");
  EXPECT_EQ(line.param_count, 0u);
  EXPECT_EQ(line.size, 1u);
}

TEST(ParseLineTest, DropsOneTrailingCarriageReturn) {
  CommandLine line;
  ASSERT_EQ(parseLine("FIN 0123456789abcdef\r\n", 1024, &line), ParseStatus::Ok);
  EXPECT_EQ(line.name, "FIN");
  EXPECT_EQ(params(line), (std::vector<std::string>{"0123456789abcdef"}));
  EXPECT_EQ(line.size, 22u);

  ASSERT_EQ(parseLine("NOP\r\n", 1024, &line), ParseStatus::Ok);
  EXPECT_EQ(line.name, "NOP");
  EXPECT_EQ(line.size, 5u);

  ASSERT_EQ(parseLine("A b\r\r\n", 1024, &line), ParseStatus::Ok);  // only one
  EXPECT_EQ(params(line), (std::vector<std::string>{"b\r"}));

  ASSERT_EQ(parseLine("A b\rc\n", 1024, &line), ParseStatus::Ok);  // only trailing
  EXPECT_EQ(params(line), (std::vector<std::string>{"b\rc"}));
}

TEST(ParseLineTest, ExtraParamsBeyondMaxAreDropped) {
  CommandLine line;
  ASSERT_EQ(parseLine("X 1 2 3 4 5 6 7 8 9 10\n", 1024, &line), ParseStatus::Ok);
  EXPECT_EQ(line.param_count, kMaxParams);
  EXPECT_EQ(line.params[0], "1");
  EXPECT_EQ(line.params[kMaxParams - 1], "8");
  EXPECT_EQ(line.size, 23u);
}

TEST(ParseLineTest, NeedMoreWithoutNewline) {
  CommandLine line;
  EXPECT_EQ(parseLine("", 1024, &line), ParseStatus::NeedMore);
  EXPECT_EQ(parseLine("PUB topic", 1024, &line), ParseStatus::NeedMore);
  std::string full = "PUB topic\n";
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_EQ(parseLine(std::string_view(full).substr(0, n), 1024, &line), ParseStatus::NeedMore)
        << n;
  }
  // max_line - 1 bytes without '\n' may still become a line of max_line bytes.
  EXPECT_EQ(parseLine(std::string(99, 'a'), 100, &line), ParseStatus::NeedMore);
}

TEST(ParseLineTest, ExactlyMaxLineIncludingNewlineIsOk) {
  // nsqd: 16384 bytes including the '\n' are accepted, 16385 close the connection (facts §1.3).
  constexpr size_t kMax = 16384;
  std::string line_text = "PUB " + std::string(kMax - 5, 't') + "\n";
  ASSERT_EQ(line_text.size(), kMax);
  CommandLine line;
  ASSERT_EQ(parseLine(line_text, kMax, &line), ParseStatus::Ok);
  EXPECT_EQ(line.size, kMax);
  EXPECT_EQ(line.name, "PUB");
  ASSERT_EQ(line.param_count, 1u);
  EXPECT_EQ(line.params[0].size(), kMax - 5);
}

TEST(ParseLineTest, ErrorWhenNoNewlineWithinMaxLine) {
  constexpr size_t kMax = 16384;
  CommandLine line;
  // max_line bytes and no '\n': can never become a valid line.
  EXPECT_EQ(parseLine(std::string(kMax, 'a'), kMax, &line), ParseStatus::Error);
  // The '\n' is the byte after max_line.
  std::string too_long = std::string(kMax, 'a') + "\n";
  EXPECT_EQ(parseLine(too_long, kMax, &line), ParseStatus::Error);
  EXPECT_EQ(parseLine(std::string(kMax + 100, 'a'), kMax, &line), ParseStatus::Error);
  EXPECT_EQ(parseLine("abcdef", 4, &line), ParseStatus::Error);
}

// ---- sized bodies ----

TEST(ParseSizedBodyTest, NeedMoreUntilSizeAndBodyArePresent) {
  std::string wire = u32(5) + "hello";
  SizedBody body;
  for (size_t n = 0; n < wire.size(); ++n) {
    EXPECT_EQ(parseSizedBody(std::string_view(wire).substr(0, n), 100, &body), BodyStatus::NeedMore)
        << n;
  }
}

TEST(ParseSizedBodyTest, OkGivesDataAndConsumed) {
  std::string wire = u32(5) + "helloNEXT";
  SizedBody body;
  ASSERT_EQ(parseSizedBody(wire, 100, &body), BodyStatus::Ok);
  EXPECT_EQ(body.size, 5);
  EXPECT_EQ(body.data, "hello");
  EXPECT_EQ(body.consumed, 9u);
  // Exactly max_size is allowed.
  wire = u32(100) + std::string(100, 'b');
  ASSERT_EQ(parseSizedBody(wire, 100, &body), BodyStatus::Ok);
  EXPECT_EQ(body.data.size(), 100u);
  EXPECT_EQ(body.consumed, 104u);
}

TEST(ParseSizedBodyTest, BadSizeZeroAndNegativeDecidedFromTheSize) {
  SizedBody body;
  EXPECT_EQ(parseSizedBody(u32(0), 100, &body), BodyStatus::BadSize);
  EXPECT_EQ(body.size, 0);
  EXPECT_EQ(parseSizedBody(u32(0xffffffff), 100, &body), BodyStatus::BadSize);
  EXPECT_EQ(body.size, -1);
  EXPECT_EQ(parseSizedBody(u32(0x80000000) + "xyz", 100, &body), BodyStatus::BadSize);
  EXPECT_EQ(body.size, INT32_MIN);
}

TEST(ParseSizedBodyTest, TooBigDecidedFromTheSize) {
  SizedBody body;
  EXPECT_EQ(parseSizedBody(u32(101), 100, &body), BodyStatus::TooBig);
  EXPECT_EQ(body.size, 101);
  // nsqd: IDENTIFY body too big 5242881 > 5242880.
  EXPECT_EQ(parseSizedBody(u32(5242881), 5242880, &body), BodyStatus::TooBig);
  EXPECT_EQ(body.size, 5242881);
  EXPECT_EQ(parseSizedBody(u32(0x7fffffff), 100, &body), BodyStatus::TooBig);
}

// ---- MPUB bodies ----

std::string mpub(const std::vector<std::string>& messages) {
  std::string out = u32(static_cast<uint32_t>(messages.size()));
  for (const std::string& m : messages)
    out += u32(static_cast<uint32_t>(m.size())) + m;
  return out;
}

TEST(ParseMpubBodyTest, Ok) {
  std::vector<std::string_view> messages{"stale"};
  MpubError error;
  std::string body = mpub({"one", "two two", std::string(50, '3')});
  ASSERT_EQ(parseMpubBody(body, 1000, 5000, &messages, &error), MpubStatus::Ok);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0], "one");
  EXPECT_EQ(messages[1], "two two");
  EXPECT_EQ(messages[2], std::string(50, '3'));
}

TEST(ParseMpubBodyTest, MessageOfExactlyMaxSizeIsOk) {
  std::vector<std::string_view> messages;
  MpubError error;
  EXPECT_EQ(parseMpubBody(mpub({std::string(10, 'a')}), 10, 5000, &messages, &error),
            MpubStatus::Ok);
  EXPECT_EQ(messages.size(), 1u);
}

TEST(ParseMpubBodyTest, BadCount) {
  std::vector<std::string_view> messages;
  MpubError error;
  EXPECT_EQ(parseMpubBody(u32(0), 100, 5000, &messages, &error), MpubStatus::BadCount);
  EXPECT_EQ(error.size, 0);
  EXPECT_EQ(parseMpubBody(u32(0xffffffff), 100, 5000, &messages, &error), MpubStatus::BadCount);
  EXPECT_EQ(error.size, -1);
  // max_body_size 24 -> at most (24 - 4) / 5 = 4 messages.
  EXPECT_EQ(parseMpubBody(u32(5), 100, 24, &messages, &error), MpubStatus::BadCount);
  EXPECT_EQ(error.size, 5);
  EXPECT_EQ(parseMpubBody(mpub({"a", "b", "c", "d"}), 100, 24, &messages, &error), MpubStatus::Ok);
  EXPECT_EQ(messages.size(), 4u);
}

TEST(ParseMpubBodyTest, BadMessageSize) {
  std::vector<std::string_view> messages;
  MpubError error;
  std::string body = u32(3) + u32(1) + "a" + u32(0) + u32(1) + "c";
  EXPECT_EQ(parseMpubBody(body, 100, 5000, &messages, &error), MpubStatus::BadMessageSize);
  EXPECT_EQ(error.index, 1u);
  EXPECT_EQ(error.size, 0);

  body = u32(2) + u32(0xfffffffe) + "a";
  EXPECT_EQ(parseMpubBody(body, 100, 5000, &messages, &error), MpubStatus::BadMessageSize);
  EXPECT_EQ(error.index, 0u);
  EXPECT_EQ(error.size, -2);
}

TEST(ParseMpubBodyTest, MessageTooBig) {
  std::vector<std::string_view> messages;
  MpubError error;
  std::string body = mpub({"ok", "ok", std::string(11, 'x')});
  EXPECT_EQ(parseMpubBody(body, 10, 5000, &messages, &error), MpubStatus::MessageTooBig);
  EXPECT_EQ(error.index, 2u);
  EXPECT_EQ(error.size, 11);
}

TEST(ParseMpubBodyTest, TruncatedInsideCount) {
  std::vector<std::string_view> messages;
  MpubError error;
  for (size_t n = 0; n < 4; ++n) {
    EXPECT_EQ(parseMpubBody(u32(1).substr(0, n), 100, 5000, &messages, &error),
              MpubStatus::Truncated)
        << n;
    EXPECT_EQ(error.index, 0u);
    EXPECT_EQ(error.size, -1);
  }
}

TEST(ParseMpubBodyTest, TruncatedInsideSizeOrBytesNamesTheMessage) {
  std::string full = mpub({"first", "second", "third"});
  // Offsets: count 0..3, "first" size 4..7 bytes 8..12, "second" size 13..16 bytes 17..22,
  // "third" size 23..26 bytes 27..31.
  struct Case {
    size_t length;
    size_t index;
    int32_t size;  // -1: cut inside the size field
  };
  for (Case c :
       {Case{4, 0, -1}, Case{7, 0, -1}, Case{8, 0, 5}, Case{12, 0, 5}, Case{13, 1, -1},
        Case{16, 1, -1}, Case{17, 1, 6}, Case{22, 1, 6}, Case{26, 2, -1}, Case{31, 2, 5}}) {
    std::vector<std::string_view> messages;
    MpubError error;
    EXPECT_EQ(
        parseMpubBody(std::string_view(full).substr(0, c.length), 100, 5000, &messages, &error),
        MpubStatus::Truncated)
        << c.length;
    EXPECT_EQ(error.index, c.index) << c.length;
    if (c.size < 0) {
      EXPECT_EQ(error.size, -1) << c.length;
    }
  }
  std::vector<std::string_view> messages;
  MpubError error;
  EXPECT_EQ(parseMpubBody(full, 100, 5000, &messages, &error), MpubStatus::Ok);
  EXPECT_EQ(messages.size(), 3u);
}

// ---- names ----

TEST(NameTest, LengthLimitIsSixtyFour) {
  EXPECT_TRUE(isValidName("a"));
  EXPECT_TRUE(isValidName(std::string(64, 'a')));
  EXPECT_FALSE(isValidName(std::string(65, 'a')));
  EXPECT_FALSE(isValidName(""));
}

TEST(NameTest, EphemeralSuffixCountsInTheLength) {
  EXPECT_TRUE(isValidName("a#ephemeral"));
  EXPECT_TRUE(isValidName(std::string(54, 'c') + "#ephemeral"));   // 64
  EXPECT_FALSE(isValidName(std::string(55, 'c') + "#ephemeral"));  // 65
  EXPECT_FALSE(isValidName("#ephemeral"));
  EXPECT_FALSE(isValidName("a#ephemeral#ephemeral"));
  EXPECT_FALSE(isValidName("a#ephemera"));
  EXPECT_FALSE(isValidName("a#Ephemeral"));
  EXPECT_FALSE(isValidName("a#"));
  EXPECT_FALSE(isValidName("a#b"));
  EXPECT_FALSE(isValidName("#ephemeralx"));
}

TEST(NameTest, AllowedCharacters) {
  EXPECT_TRUE(isValidName("a.b-c_D9"));
  EXPECT_TRUE(isValidName("..."));
  EXPECT_TRUE(isValidName("-_-"));
  EXPECT_TRUE(isValidName("ABCXYZabcxyz0189"));
  for (std::string_view bad :
       {"a b"sv, "a/b"sv, "a:b"sv, "a\tb"sv, "a\nb"sv, "topic!"sv, "caf\xc3\xa9"sv, "a*"sv,
        "a\x01"sv, "a+b"sv, std::string_view("a\0b", 3)}) {
    EXPECT_FALSE(isValidName(bad)) << bad;
  }
}

TEST(NameTest, IsEphemeralName) {
  EXPECT_TRUE(isEphemeralName("a#ephemeral"));
  EXPECT_TRUE(isEphemeralName("#ephemeral"));
  EXPECT_FALSE(isEphemeralName("a"));
  EXPECT_FALSE(isEphemeralName("ephemeral"));
  EXPECT_FALSE(isEphemeralName("a#ephemeralx"));
  EXPECT_FALSE(isEphemeralName(""));
}

}  // namespace
}  // namespace push::queue::wire
