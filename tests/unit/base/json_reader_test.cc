#include "common/base/json_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace push {
namespace {

TEST(JsonReaderTest, ReadsObjectsArraysStringsAndNumbers) {
  JsonReader r(
      R"( {"app":"demo","users":["a","b"],"qos":1,"devices":[{"user":"u","device":"d"}],"x":null} )");
  ASSERT_TRUE(r.beginObject().isOk());
  std::string key, app;
  std::vector<std::string> users;
  uint64_t qos = 0;
  std::string du, dd;
  bool saw_null = false;
  while (r.nextKey(&key)) {
    if (key == "app") {
      ASSERT_TRUE(r.readString(&app).isOk());
    } else if (key == "users") {
      ASSERT_TRUE(r.beginArray().isOk());
      while (r.nextElement())
        ASSERT_TRUE(r.readString(&users.emplace_back()).isOk());
    } else if (key == "qos") {
      ASSERT_TRUE(r.readUint(&qos, 10).isOk());
    } else if (key == "devices") {
      ASSERT_TRUE(r.beginArray().isOk());
      while (r.nextElement()) {
        ASSERT_TRUE(r.beginObject().isOk());
        std::string k;
        while (r.nextKey(&k))
          ASSERT_TRUE(r.readString(k == "user" ? &du : &dd).isOk());
      }
    } else if (key == "x") {
      saw_null = r.isNull();
    }
  }
  ASSERT_TRUE(r.finish().isOk()) << r.status().toString();
  EXPECT_EQ(app, "demo");
  EXPECT_EQ(users, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(qos, 1u);
  EXPECT_EQ(du, "u");
  EXPECT_EQ(dd, "d");
  EXPECT_TRUE(saw_null);
}

TEST(JsonReaderTest, DecodesEveryEscapeIncludingSurrogatePairs) {
  JsonReader r(R"("a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac\ud83d\ude00")");
  std::string s;
  ASSERT_TRUE(r.readString(&s).isOk()) << r.status().toString();
  EXPECT_EQ(s, "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  EXPECT_TRUE(r.finish().isOk());
}

TEST(JsonReaderTest, SkipsUnknownValuesOfAnyShape) {
  JsonReader r(R"({"skip":{"a":[1,-2.5e3,true,false,null,"x",{"b":[]}]},"keep":"yes"})");
  ASSERT_TRUE(r.beginObject().isOk());
  std::string key, keep;
  while (r.nextKey(&key)) {
    if (key == "keep") {
      ASSERT_TRUE(r.readString(&keep).isOk());
    } else {
      ASSERT_TRUE(r.skipValue().isOk()) << r.status().toString();
    }
  }
  EXPECT_TRUE(r.finish().isOk()) << r.status().toString();
  EXPECT_EQ(keep, "yes");
}

Status parseAll(std::string_view text) {
  JsonReader r(text);
  RETURN_IF_ERROR(r.skipValue());
  return r.finish();
}

TEST(JsonReaderTest, RejectsMalformedInputWithTheOffset) {
  for (std::string_view bad : {"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1 2]", "{\"a\":1} x",
                               "\"unterminated", "\"bad \\q escape\"", "\"\\ud800\"", "\"\\udc00\"",
                               "\"\\u12\"", "01", "-", "1.", "1e", "tru", "\"ctrl \x01 char\""}) {
    Status st = parseAll(bad);
    EXPECT_FALSE(st.isOk()) << "accepted: " << bad;
    EXPECT_NE(st.message().find("at byte"), std::string::npos) << st.message();
  }
  EXPECT_TRUE(parseAll("[1, 2.5, -3e-2, \"x\", {}, []]").isOk());
}

TEST(JsonReaderTest, BoundsNestingAndIntegers) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(parseAll(deep).isOk());
  JsonReader r("18446744073709551616");  // 2^64
  uint64_t v;
  EXPECT_FALSE(r.readUint(&v, UINT64_MAX).isOk());
  JsonReader small("300");
  EXPECT_FALSE(small.readUint(&v, 255).isOk());
  JsonReader frac("1.5");
  EXPECT_FALSE(frac.readUint(&v, 10).isOk());
  JsonReader neg("-1");
  EXPECT_FALSE(neg.readUint(&v, 10).isOk());
}

TEST(JsonReaderTest, ReadUintTruncatedTakesAnyNumberInRange) {
  auto read = [](const char* text, uint64_t max, uint64_t* v) {
    JsonReader r(text);
    Status st = r.readUintTruncated(v, max);
    return st.isOk() ? r.finish() : st;
  };
  uint64_t v = 0;
  EXPECT_TRUE(read("1.9", 10, &v).isOk());
  EXPECT_EQ(v, 1u);
  EXPECT_TRUE(read("2e3", 5000, &v).isOk());
  EXPECT_EQ(v, 2000u);
  EXPECT_TRUE(read("0.5", 10, &v).isOk());
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(read("10.99", 10, &v).isOk());  // truncates to the max
  EXPECT_EQ(v, 10u);
  EXPECT_TRUE(read("1700000000", 1'000'000'000'000ULL, &v).isOk());
  EXPECT_EQ(v, 1'700'000'000u);
  for (const char* bad : {"11", "1e13", "-1", "-0.5", "01", "1.", ".5", "1e", "x", "\"1\""}) {
    EXPECT_FALSE(read(bad, 10, &v).isOk()) << bad;
  }
}

TEST(JsonReaderTest, WrongTypesAreErrors) {
  JsonReader r(R"({"users":"alice"})");
  ASSERT_TRUE(r.beginObject().isOk());
  std::string key;
  ASSERT_TRUE(r.nextKey(&key));
  EXPECT_FALSE(r.beginArray().isOk());
  EXPECT_FALSE(r.nextKey(&key));  // sticky error
}

TEST(JsonWriterTest, AppendJsonStringEscapesAndRoundTrips) {
  const std::string original = std::string("quote\" back\\ nl\n tab\t ctl\x01 é", 26);
  std::string json;
  appendJsonString(&json, original);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  JsonReader r(json);
  std::string back;
  ASSERT_TRUE(r.readString(&back).isOk()) << json;
  EXPECT_EQ(back, original);
}

TEST(Utf8Test, AcceptsWellFormedAndRejectsTheRest) {
  EXPECT_TRUE(isValidUtf8("plain"));
  EXPECT_TRUE(isValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(isValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));  // over U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xff"));
  EXPECT_FALSE(isValidUtf8("a\x80"));
}

}  // namespace
}  // namespace push
