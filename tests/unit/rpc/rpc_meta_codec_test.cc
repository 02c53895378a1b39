// The hand-written RpcMeta codec against libprotobuf's RpcMeta: the same bytes both ways, and
// hostile bytes refused without reading past the end.
#include "common/rpc/detail/meta_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "proto/rpc.pb.h"

namespace push::rpc::detail {
namespace {

std::string encode(const MetaView& m) {
  std::string out(encodedMetaSize(m), '\0');
  char* end = encodeMeta(m, out.data());
  EXPECT_EQ(end, out.data() + out.size());
  return out;
}

RpcMeta toProto(const MetaView& m) {
  RpcMeta p;
  p.set_request_id(m.request_id);
  p.set_method(std::string(m.method));
  p.set_timeout_ms(m.timeout_ms);
  p.set_code(static_cast<Code>(m.code));
  p.set_error(std::string(m.error));
  p.set_not_executed(m.not_executed);
  p.set_goaway(m.goaway);
  return p;
}

void expectSame(const MetaView& got, const RpcMeta& want) {
  EXPECT_EQ(got.request_id, want.request_id());
  EXPECT_EQ(got.method, want.method());
  EXPECT_EQ(got.timeout_ms, want.timeout_ms());
  EXPECT_EQ(got.code, static_cast<int32_t>(want.code()));
  EXPECT_EQ(got.error, want.error());
  EXPECT_EQ(got.not_executed, want.not_executed());
  EXPECT_EQ(got.goaway, want.goaway());
}

std::vector<MetaView> samples() {
  static const std::string long_error(300, 'e');  // the views outlive the call
  std::vector<MetaView> out;
  out.push_back(MetaView{});  // everything at its default: zero bytes
  out.push_back(MetaView{1, "push.echo.EchoService.Echo", 5000, 0, "", false, false});
  out.push_back(MetaView{std::numeric_limits<uint64_t>::max(), std::string_view("m"),
                         std::numeric_limits<uint32_t>::max(), 0, "", false, false});
  out.push_back(MetaView{77, "", 0, 14, "server shutting down", true, false});
  out.push_back(MetaView{0, "", 0, 16, "cluster key required", true, true});
  out.push_back(MetaView{127, "", 0, -1, "", false, false});  // an enum out of range
  out.push_back(MetaView{128, std::string_view(), 128, 127, long_error, true, true});
  return out;
}

TEST(RpcMetaCodecTest, EncodesExactlyAsLibprotobuf) {
  for (const MetaView& m : samples()) {
    const std::string ours = encode(m);
    const std::string theirs = toProto(m).SerializeAsString();
    EXPECT_EQ(ours, theirs) << "request_id " << m.request_id;
  }
}

TEST(RpcMetaCodecTest, DecodesWhatLibprotobufEncodes) {
  for (const MetaView& m : samples()) {
    const RpcMeta proto = toProto(m);
    const std::string bytes = proto.SerializeAsString();
    MetaView got;
    got.request_id = 999;  // reset by decodeMeta
    ASSERT_TRUE(decodeMeta(bytes.data(), bytes.size(), &got));
    expectSame(got, proto);
    // And libprotobuf reads ours.
    RpcMeta back;
    const std::string ours = encode(m);
    ASSERT_TRUE(back.ParseFromString(ours));
    expectSame(m, back);
  }
}

TEST(RpcMetaCodecTest, FollowsProtobufForRepeatedUnknownAndMistypedFields) {
  std::string bytes;
  bytes += std::string("\x08\x05", 2);                       // request_id 5
  bytes += std::string("\x12\x01x", 3);                      // method "x"
  bytes += std::string("\x08\x07", 2);                       // request_id again: the last one wins
  bytes += std::string("\x62\x03zzz", 5);                    // field 12, length-delimited: skipped
  bytes += std::string("\x69", 1) + std::string(8, '\x01');  // field 13, fixed64: skipped
  bytes += std::string("\x75", 1) + std::string(4, '\x02');  // field 14, fixed32: skipped
  bytes += std::string("\x1a\x02no", 4);                     // field 3 (a varint) as bytes: skipped
  bytes += std::string("\x18\x80\x80\x80\x80\x10", 6);       // timeout 2^32: low 32 bits (0)
  bytes += std::string("\x20\x02", 2);                       // code 2
  bytes += std::string("\x30\x02", 2);                       // not_executed: any non-zero is true
  RpcMeta proto;
  ASSERT_TRUE(proto.ParseFromString(bytes));
  MetaView got;
  ASSERT_TRUE(decodeMeta(bytes.data(), bytes.size(), &got));
  expectSame(got, proto);
  EXPECT_EQ(got.request_id, 7u);
  EXPECT_EQ(got.method, "x");
  EXPECT_TRUE(got.not_executed);
}

TEST(RpcMetaCodecTest, RefusesTruncatedAndMalformedInput) {
  const MetaView full{300, "push.echo.EchoService.Echo", 1000, 3, "bad", true, true};
  const std::string bytes = encode(full);
  MetaView got;
  // Every proper prefix that cuts a field is refused; those at a field boundary are valid
  // shorter metas (protobuf agrees either way).
  for (size_t n = 0; n < bytes.size(); ++n) {
    RpcMeta proto;
    const bool theirs = proto.ParseFromArray(bytes.data(), static_cast<int>(n));
    EXPECT_EQ(decodeMeta(bytes.data(), n, &got), theirs) << "prefix " << n;
  }
  const auto refused = [&](const std::string& b) { return !decodeMeta(b.data(), b.size(), &got); };
  EXPECT_TRUE(refused(std::string("\x08", 1)));                                  // varint missing
  EXPECT_TRUE(refused(std::string("\x08") + std::string(10, '\xff') + "\x01"));  // 11 bytes
  EXPECT_TRUE(refused(std::string("\x12\x05", 2) + "abc"));              // length past the end
  EXPECT_TRUE(refused(std::string("\x12\xff\xff\xff\xff\x0f", 6)));      // 4 GiB string
  EXPECT_TRUE(refused(std::string("\x00\x01", 2)));                      // field number 0
  EXPECT_TRUE(refused(std::string("\x0b\x0c", 2)));                      // a group
  EXPECT_TRUE(refused(std::string("\x0e\x01", 2)));                      // wire type 6
  EXPECT_TRUE(refused(std::string("\x80\x80\x80\x80\x80\x01\x00", 7)));  // tag over 32 bits
  EXPECT_TRUE(refused(std::string("\x69\x01\x02", 3)));                  // fixed64 cut short
  EXPECT_TRUE(refused(std::string("\x75\x01", 2)));                      // fixed32 cut short
}

TEST(RpcMetaCodecTest, RandomBytesNeverReadPastTheEndAndAgreeWithProtobufOnValidOnes) {
  // Under ASan a read past the buffer (each case is its own heap allocation) aborts the test.
  std::mt19937 rng(20261207);
  int agreed_valid = 0;
  for (int i = 0; i < 20000; ++i) {
    const size_t len = rng() % 24;
    std::vector<char> buf(len);
    for (char& c : buf)
      c = static_cast<char>(rng() % 4 == 0 ? rng() % 0x40 : rng());
    MetaView got;
    if (!decodeMeta(buf.data(), buf.size(), &got)) continue;
    RpcMeta proto;
    // protobuf also checks the string fields' UTF-8, which the codec leaves to its users.
    if (!proto.ParseFromArray(buf.data(), static_cast<int>(buf.size()))) continue;
    expectSame(got, proto);
    ++agreed_valid;
  }
  EXPECT_GT(agreed_valid, 100);  // the comparison ran on a fair share of the cases
}

}  // namespace
}  // namespace push::rpc::detail
