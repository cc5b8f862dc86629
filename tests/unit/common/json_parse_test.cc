#include "common/json_parse.h"

#include <string>

#include <gtest/gtest.h>

namespace openpcc {
namespace {

using namespace std::string_literals;

std::string nested_arrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonParse, ValidDocuments) {
  auto object = parse_json(R"({"a":1,"b":[true,null,"x"],"c":{"d":-2.5}})");
  ASSERT_TRUE(object.has_value()) << object.error().to_string();
  EXPECT_EQ((*object)["a"], 1);
  EXPECT_EQ((*object)["b"][2], "x");
  EXPECT_EQ((*object)["c"]["d"], -2.5);

  auto scalar = parse_json(" \t\r\n\"hi\" \n");
  ASSERT_TRUE(scalar.has_value());
  EXPECT_EQ(*scalar, "hi");

  auto escaped_nul = parse_json(R"(["a\u0000b"])");
  ASSERT_TRUE(escaped_nul.has_value());
  EXPECT_EQ((*escaped_nul)[0].get<std::string>(), "a\0b"s);

  const std::string bytes_text = R"({"k":[1,2]})";
  auto from_bytes = parse_json(as_bytes(bytes_text));
  ASSERT_TRUE(from_bytes.has_value());
  EXPECT_EQ((*from_bytes)["k"][1], 2);
}

TEST(JsonParse, NulAfterDocumentIsRefused) {
  const std::string text = "{\"a\":1}\0garbage"s;
  auto parsed = parse_json(text);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, ErrorCode::kDecode);
  EXPECT_NE(parsed.error().message.find("NUL byte at offset 7"), std::string::npos) << parsed.error().message;
  EXPECT_FALSE(parse_json(as_bytes(text)).has_value());
  EXPECT_FALSE(parse_json("{\"a\":1}\0"s).has_value());
}

TEST(JsonParse, NulInsideDocumentIsRefused) {
  EXPECT_FALSE(parse_json("{\"a\":\"x\0y\"}"s).has_value());
  EXPECT_FALSE(parse_json("{\"a\":\0 1}"s).has_value());
  EXPECT_FALSE(parse_json("\0{}"s).has_value());
}

TEST(JsonParse, TrailingGarbageIsRefused) {
  for (const char* text : {"{} x", "{}{}", "1 2", "[1]]", "{\"a\":1}garbage", "true false"}) {
    auto parsed = parse_json(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    EXPECT_EQ(parsed.error().code, ErrorCode::kDecode);
    EXPECT_NE(parsed.error().message.find("syntax error at byte"), std::string::npos) << parsed.error().message;
  }
}

TEST(JsonParse, MalformedIsRefused) {
  for (const char* text : {"", " ", "{", "[1,]", "{'a':1}", "{\"a\" 1}", "nul", "01", "\"\xff\""}) {
    EXPECT_FALSE(parse_json(text).has_value()) << text;
  }
}

TEST(JsonParse, CommentsOnlyWhenAsked) {
  const std::string text = "{ // note\n \"a\": /* one */ 1 }";
  EXPECT_FALSE(parse_json(text).has_value());
  auto parsed = parse_json(text, {.allow_comments = true});
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  EXPECT_EQ((*parsed)["a"], 1);
}

TEST(JsonParse, DuplicateKeysOnlyRefusedWhenAsked) {
  const std::string text = R"({"a":1,"b":{"a":2,"c":3},"a":4})";
  auto lenient = parse_json(text);
  ASSERT_TRUE(lenient.has_value());
  auto strict = parse_json(text, {.reject_duplicate_keys = true});
  ASSERT_FALSE(strict.has_value());
  EXPECT_NE(strict.error().message.find("repeated object key"), std::string::npos);
  // The same key in sibling or nested objects is fine.
  EXPECT_TRUE(parse_json(R"({"a":{"a":1},"b":[{"a":1},{"a":2}]})", {.reject_duplicate_keys = true}).has_value());
  EXPECT_FALSE(parse_json(R"([{"x":1},{"y":1,"y":2}])", {.reject_duplicate_keys = true}).has_value());
}

TEST(JsonParse, DepthIsBounded) {
  EXPECT_TRUE(parse_json(nested_arrays(kDefaultMaxJsonDepth)).has_value());
  auto too_deep = parse_json(nested_arrays(kDefaultMaxJsonDepth + 1));
  ASSERT_FALSE(too_deep.has_value());
  EXPECT_EQ(too_deep.error().code, ErrorCode::kDecode);
  EXPECT_NE(too_deep.error().message.find("deeper than 128"), std::string::npos) << too_deep.error().message;

  // Objects count the same as arrays, and a caller's own bound applies.
  EXPECT_TRUE(parse_json(R"({"a":{"b":1}})", {.max_depth = 2}).has_value());
  EXPECT_FALSE(parse_json(R"({"a":{"b":{}}})", {.max_depth = 2}).has_value());
  EXPECT_TRUE(parse_json("7", {.max_depth = 0}).has_value());
  EXPECT_FALSE(parse_json("[]", {.max_depth = 0}).has_value());
}

TEST(JsonParse, DepthBombIsRefusedWithoutCrashing) {
  // A megabyte of '[' (never closed) and a closed one: both stop at the bound, no stack or tree blow-up.
  const std::string open_only(1 << 20, '[');
  EXPECT_FALSE(parse_json(open_only).has_value());
  EXPECT_FALSE(parse_json(nested_arrays(200000)).has_value());
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_FALSE(parse_json(objects).has_value());
}

}  // namespace
}  // namespace openpcc
