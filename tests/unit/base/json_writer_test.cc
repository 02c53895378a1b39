#include "common/base/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "common/base/json_reader.h"

namespace push {
namespace {

std::string asJson(std::string_view s) {
  std::string out;
  appendJsonString(&out, s);
  return out;
}

// Reads `json` back as one string value.
std::string readBack(const std::string& json) {
  JsonReader r(json);
  std::string out;
  Status st = r.readString(&out);
  EXPECT_TRUE(st.isOk()) << st.toString() << " in " << json;
  EXPECT_TRUE(r.finish().isOk()) << json;
  return out;
}

TEST(JsonEscapeTest, QuotesBackslashAndShortEscapes) {
  EXPECT_EQ(asJson(""), "\"\"");
  EXPECT_EQ(asJson("plain text"), "\"plain text\"");
  EXPECT_EQ(asJson("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(asJson("a\\b"), R"("a\\b")");
  EXPECT_EQ(asJson("l1\nl2\r\tx"), R"("l1\nl2\r\tx")");
  EXPECT_EQ(asJson("/"), "\"/\"");  // '/' needs no escape
}

TEST(JsonEscapeTest, OtherControlCharactersAndDelAreUnicodeEscapes) {
  EXPECT_EQ(asJson(std::string("\0", 1)), R"("\u0000")");
  EXPECT_EQ(asJson("\x01\x08\x0c\x1f"), R"("\u0001\u0008\u000c\u001f")");
  EXPECT_EQ(asJson("\x7f"), R"("\u007f")");
  const std::string all_controls = [] {
    std::string s;
    for (int c = 0; c < 0x20; ++c)
      s.push_back(static_cast<char>(c));
    return s + "\x7f";
  }();
  const std::string json = asJson(all_controls);
  for (char c : json)
    EXPECT_GE(static_cast<unsigned char>(c), 0x20) << json;
  EXPECT_EQ(readBack(json), all_controls);
}

TEST(JsonEscapeTest, ValidMultibyteUtf8IsCopiedUnchanged) {
  const std::string text =
      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF";  // é € 😀 U+10FFFF
  EXPECT_EQ(asJson(text), "\"" + text + "\"");
  EXPECT_EQ(readBack(asJson(text)), text);
}

TEST(JsonEscapeTest, EachInvalidUtf8ByteBecomesOneReplacementCharacter) {
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  EXPECT_EQ(asJson("\xff"), "\"" + r + "\"");
  EXPECT_EQ(asJson("\x80"), "\"" + r + "\"");                          // stray continuation byte
  EXPECT_EQ(asJson("a\xC3"), "\"a" + r + "\"");                        // truncated at the end
  EXPECT_EQ(asJson("\xC3z"), "\"" + r + "z\"");                        // truncated by an ASCII byte
  EXPECT_EQ(asJson("\xE2\x82"), "\"" + r + r + "\"");                  // truncated 3-byte sequence
  EXPECT_EQ(asJson("\xC0\xAF"), "\"" + r + r + "\"");                  // overlong '/'
  EXPECT_EQ(asJson("\xED\xA0\x80"), "\"" + r + r + r + "\"");          // UTF-16 surrogate
  EXPECT_EQ(asJson("\xF4\x90\x80\x80"), "\"" + r + r + r + r + "\"");  // over U+10FFFF
  // A bad byte does not swallow the valid character after it.
  EXPECT_EQ(asJson("\xC3\xC3\xA9"), "\"" + r + "\xC3\xA9\"");
  for (const std::string bad : {"\xff\xfe", "x\xC0\xAFy\"", "\xED\xA0\x80\n"}) {
    const std::string json = asJson(bad);
    EXPECT_TRUE(isValidUtf8(json)) << json;
    JsonReader reader(json);
    std::string back;
    EXPECT_TRUE(reader.readString(&back).isOk()) << json;
  }
}

TEST(JsonEscapeTest, EscapedFormHasNoQuotes) {
  std::string out = "x=";
  appendJsonEscaped(&out, "a\"b\xff");
  EXPECT_EQ(out, "x=a\\\"b\xEF\xBF\xBD");
}

TEST(JsonWriterTest, EmptyContainersAndScalars) {
  JsonWriter empty_object;
  empty_object.beginObject().endObject();
  EXPECT_EQ(empty_object.str(), "{}");
  EXPECT_TRUE(empty_object.complete());

  JsonWriter empty_array;
  empty_array.beginArray().endArray();
  EXPECT_EQ(empty_array.str(), "[]");

  JsonWriter w;
  w.beginArray();
  w.string("s").int64(-42).uint64(std::numeric_limits<uint64_t>::max());
  w.int64(std::numeric_limits<int64_t>::min());
  w.number(0.1).number(-2.5).number(1e30).boolean(true).boolean(false).null();
  w.raw(R"({"pre":[1,2]})");
  w.endArray();
  EXPECT_EQ(w.str(),
            R"(["s",-42,18446744073709551615,-9223372036854775808,0.1,-2.5,1e+30,true,false,)"
            R"(null,{"pre":[1,2]}])");
  EXPECT_TRUE(w.complete());
}

TEST(JsonWriterTest, NonFiniteNumbersAreNull) {
  JsonWriter w;
  w.beginArray();
  w.number(std::numeric_limits<double>::quiet_NaN());
  w.number(std::numeric_limits<double>::infinity());
  w.number(-std::numeric_limits<double>::infinity());
  w.endArray();
  EXPECT_EQ(w.str(), "[null,null,null]");
}

TEST(JsonWriterTest, NestingAndCommas) {
  JsonWriter w;
  w.beginObject();
  w.key("a").int64(1);
  w.key("list").beginArray();
  w.beginObject().key("x").int64(1).key("y").beginArray().endArray().endObject();
  w.beginObject().endObject();
  w.beginArray().int64(1).beginArray().int64(2).endArray().int64(3).endArray();
  w.endArray();
  w.key("empty").beginObject().endObject();
  w.key("last").string("z");
  w.endObject();
  EXPECT_EQ(w.str(), R"({"a":1,"list":[{"x":1,"y":[]},{},[1,[2],3]],"empty":{},"last":"z"})");
  EXPECT_TRUE(w.complete());
  EXPECT_TRUE(w.ok());

  // Every nesting reads back with JsonReader.
  JsonReader r(w.str());
  ASSERT_TRUE(r.skipValue().isOk());
  EXPECT_TRUE(r.finish().isOk());
}

TEST(JsonWriterTest, KeysAreEscapedToo) {
  JsonWriter w;
  w.beginObject().key("k\"\n\xff").string("v").endObject();
  EXPECT_EQ(w.str(), "{\"k\\\"\\n\xEF\xBF\xBD\":\"v\"}");
  JsonReader r(w.str());
  ASSERT_TRUE(r.beginObject().isOk());
  std::string key;
  ASSERT_TRUE(r.nextKey(&key));
  EXPECT_EQ(key, "k\"\n\xEF\xBF\xBD");
}

TEST(JsonWriterTest, TopLevelScalarAndTake) {
  JsonWriter w;
  EXPECT_FALSE(w.complete());
  w.string("only");
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(w.take(), "\"only\"");
  // Empty and reusable afterwards.
  EXPECT_EQ(w.str(), "");
  EXPECT_FALSE(w.complete());
  w.beginArray().endArray();
  EXPECT_EQ(w.take(), "[]");
}

TEST(JsonWriterTest, OpenContainerIsNotComplete) {
  JsonWriter w;
  w.beginObject().key("a");
  EXPECT_FALSE(w.complete());
  w.int64(1);
  EXPECT_FALSE(w.complete());
  w.endObject();
  EXPECT_TRUE(w.complete());
}

// Misuse asserts in debug builds; in release builds the call is dropped and ok() stays false.
TEST(JsonWriterDeathTest, MisuseIsCaught) {
  {
    JsonWriter w;
    w.beginObject();
    EXPECT_DEBUG_DEATH(w.int64(1), "grammar");  // a value without its key
#ifdef NDEBUG
    EXPECT_FALSE(w.ok());
    EXPECT_EQ(w.str(), "{");
    w.key("late").int64(2).endObject();  // ignored from now on
    EXPECT_EQ(w.str(), "{");
    EXPECT_FALSE(w.complete());
#endif
  }
  {
    JsonWriter w;
    w.beginArray();
    EXPECT_DEBUG_DEATH(w.key("k"), "grammar");  // a key outside an object
  }
  {
    JsonWriter w;
    w.beginArray();
    EXPECT_DEBUG_DEATH(w.endObject(), "grammar");  // mismatched end
  }
  {
    JsonWriter w;
    w.beginObject().key("k");
    EXPECT_DEBUG_DEATH(w.endObject(), "grammar");  // key without value
  }
  {
    JsonWriter w;
    w.int64(1);
    EXPECT_DEBUG_DEATH(w.int64(2), "grammar");  // a second top-level value
#ifdef NDEBUG
    EXPECT_EQ(w.str(), "1");
#endif
  }
}

}  // namespace
}  // namespace push
