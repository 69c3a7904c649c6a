//===- JsonTest.cpp - Tests for the strict JSON parser and writer ---------===//
#include "kvcc/Support/Json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <unistd.h>

using namespace kvcc;
using json::Value;

namespace {

Value parseOk(std::string_view text) {
  Expected<Value> v = json::parse(text, "t.json");
  EXPECT_TRUE(v.ok()) << v.message();
  return v.ok() ? v.take() : Value();
}

std::string parseError(std::string_view text) {
  Expected<Value> v = json::parse(text, "t.json");
  EXPECT_FALSE(v.ok()) << "accepted: " << text;
  return v.ok() ? std::string() : v.message();
}

TEST(Json, Scalars) {
  EXPECT_TRUE(parseOk("null").isNull());
  EXPECT_TRUE(parseOk(" true ").asBool());
  EXPECT_FALSE(parseOk("false").asBool());
  EXPECT_EQ(parseOk("-12.5e1").asNumber(), -125.0);
  EXPECT_EQ(parseOk("0").asNumber(), 0.0);
  EXPECT_EQ(parseOk("-0.0").asNumber(), 0.0);
  EXPECT_EQ(parseOk("1E+2").asNumber(), 100.0);
  EXPECT_EQ(parseOk("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"").asString(), "a\"b\\c/d\b\f\n\r\t");
}

TEST(Json, ObjectsKeepOrderAndTypedLookups) {
  Value v = parseOk(R"({"z": 1, "a": [1, 2, {"x": null}], "s": "str", "f": 1.5, "big": 1e300})");
  ASSERT_TRUE(v.isObject());
  const auto &o = v.asObject();
  ASSERT_EQ(o.size(), 5u);
  EXPECT_EQ(o[0].first, "z");
  EXPECT_EQ(o[1].first, "a");
  EXPECT_EQ(v.get("a")->asArray().size(), 3u);
  EXPECT_TRUE(v.get("a")->asArray()[2].get("x")->isNull());
  EXPECT_EQ(v.get("missing"), nullptr);
  EXPECT_EQ(*v.getInt("z"), 1);
  EXPECT_EQ(*v.getNumber("f"), 1.5);
  EXPECT_EQ(*v.getString("s"), "str");

  Expected<int64_t> notInt = v.getInt("f");
  ASSERT_FALSE(notInt.ok());
  EXPECT_NE(notInt.message().find("'f' is 1.5"), std::string::npos) << notInt.message();
  Expected<int64_t> tooBig = v.getInt("big");
  ASSERT_FALSE(tooBig.ok());
  Expected<int64_t> wrongKind = v.getInt("s");
  ASSERT_FALSE(wrongKind.ok());
  EXPECT_NE(wrongKind.message().find("member 's' is a string"), std::string::npos) << wrongKind.message();
  Expected<std::string> notString = v.getString("z");
  EXPECT_NE(notString.message().find("member 'z' is a number, expected a string"), std::string::npos);
  Expected<double> missing = v.getNumber("nope");
  EXPECT_NE(missing.message().find("missing member 'nope'"), std::string::npos);
}

TEST(Json, UnicodeEscapes) {
  EXPECT_EQ(parseOk(R"("\u0041\u00e9\u20ac")").asString(), "A\xC3\xA9\xE2\x82\xAC");
  // U+1F600 as a surrogate pair.
  EXPECT_EQ(parseOk(R"("\ud83d\ude00")").asString(), "\xF0\x9F\x98\x80");
  // Raw UTF-8 passes through.
  EXPECT_EQ(parseOk("\"\xF0\x9F\x98\x80\"").asString(), "\xF0\x9F\x98\x80");
  EXPECT_NE(parseError(R"("\ud83d")").find("lone high surrogate"), std::string::npos);
  EXPECT_NE(parseError(R"("\ud83dx")").find("lone high surrogate"), std::string::npos);
  EXPECT_NE(parseError(R"("\ude00")").find("lone low surrogate"), std::string::npos);
  EXPECT_NE(parseError(R"("\ud83d\u0041")").find("not followed by a low surrogate"), std::string::npos);
  EXPECT_NE(parseError(R"("\u12G4")").find("invalid hex digit"), std::string::npos);
  EXPECT_NE(parseError(R"("\u12")").find("\\u"), std::string::npos);
  EXPECT_NE(parseError("\"\xC0\xAF\"").find("invalid UTF-8"), std::string::npos);     // overlong '/'
  EXPECT_NE(parseError("\"\xED\xA0\x80\"").find("invalid UTF-8"), std::string::npos); // encoded surrogate
  EXPECT_NE(parseError("\"\xF4\x90\x80\x80\"").find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(parseError("\"\xE2\x82\"").find("invalid UTF-8"), std::string::npos); // truncated sequence
}

TEST(Json, RejectsNonRfc8259) {
  EXPECT_NE(parseError("\"a\nb\"").find("t.json:1:3: control character 0x0a"), std::string::npos);
  EXPECT_NE(parseError("[1] x").find("trailing"), std::string::npos);
  EXPECT_NE(parseError("01").find("leading zeros"), std::string::npos);
  EXPECT_NE(parseError("-01").find("leading zeros"), std::string::npos);
  EXPECT_NE(parseError("1.").find("after '.'"), std::string::npos);
  EXPECT_NE(parseError(".5").find("expected a value"), std::string::npos);
  EXPECT_NE(parseError("1e").find("exponent"), std::string::npos);
  EXPECT_NE(parseError("-").find("expected a digit"), std::string::npos);
  EXPECT_NE(parseError("+1").find("expected a value"), std::string::npos);
  EXPECT_NE(parseError("NaN").find("expected a value"), std::string::npos);
  EXPECT_NE(parseError("Infinity").find("expected a value"), std::string::npos);
  EXPECT_NE(parseError("1e400").find("out of the range"), std::string::npos);
  EXPECT_NE(parseError("[1,]").find("expected a value"), std::string::npos);
  EXPECT_NE(parseError("{\"a\":1,}").find("expected a member name"), std::string::npos);
  EXPECT_NE(parseError("{'a':1}").find("expected a member name"), std::string::npos);
  EXPECT_NE(parseError("{\"a\" 1}").find("expected ':'"), std::string::npos);
  EXPECT_NE(parseError("{\"a\":1,\"a\":2}").find("duplicate member name 'a'"), std::string::npos);
  EXPECT_NE(parseError("[1 2]").find("expected ',' or ']'"), std::string::npos);
  EXPECT_NE(parseError("tru").find("invalid literal"), std::string::npos);
  EXPECT_NE(parseError("nul").find("invalid literal"), std::string::npos);
  EXPECT_NE(parseError("\"\\x\"").find("invalid escape '\\x'"), std::string::npos);
  EXPECT_NE(parseError("").find("unexpected end of input"), std::string::npos);
  EXPECT_NE(parseError("  ").find("unexpected end of input"), std::string::npos);
  EXPECT_NE(parseError("\"abc").find("unterminated string"), std::string::npos);
  EXPECT_NE(parseError("// c\n1").find("t.json:1:1"), std::string::npos);
}

TEST(Json, ErrorPositionsCountLinesAndColumns) {
  std::string msg = parseError("{\n  \"a\": 1,\n  \"b\": ?\n}");
  EXPECT_EQ(msg.rfind("t.json:3:8: ", 0), 0u) << msg;
}

TEST(Json, DepthLimit) {
  std::string ok(json::kMaxDepth, '[');
  ok += std::string(json::kMaxDepth, ']');
  EXPECT_TRUE(json::parse(ok, "d").ok());
  std::string deep(json::kMaxDepth + 1, '[');
  deep += std::string(json::kMaxDepth + 1, ']');
  EXPECT_NE(parseError(deep).find("nesting deeper than 512"), std::string::npos);
  // Far deeper input (no closing brackets) must fail fast, not overflow the stack.
  std::string hostile(1000000, '{');
  EXPECT_FALSE(json::parse(hostile, "d").ok());
}

TEST(Json, TruncationOfEveryPrefixFails) {
  std::string doc = R"({"a": [1, -2.5e3, true, false, null, "x\u00e9\ud83d\ude00"], "b": {"c": {}}})";
  ASSERT_TRUE(json::parse(doc, "p").ok());
  for (size_t n = 0; n < doc.size(); ++n)
    EXPECT_FALSE(json::parse(doc.substr(0, n), "p").ok()) << "prefix " << n;
}

TEST(Json, WriteRoundTrip) {
  Value v = Value::object({
      {"name", Value::string("q\"uo\\te\n\x01\xC3\xA9")},
      {"n", Value::number(42)},
      {"neg", Value::number(-3)},
      {"pi", Value::number(3.141592653589793)},
      {"tiny", Value::number(1e-300)},
      {"list", Value::array({Value::boolean(true), Value::null(), Value::array({}), Value::object({})})},
  });
  for (int indent : {0, 2, 4}) {
    std::string text = json::write(v, indent);
    Expected<Value> back = json::parse(text, "rt");
    ASSERT_TRUE(back.ok()) << back.message() << "\n" << text;
    EXPECT_EQ(json::write(*back, indent), text);
    EXPECT_EQ(back->get("name")->asString(), v.get("name")->asString());
    EXPECT_EQ(back->get("pi")->asNumber(), 3.141592653589793);
    EXPECT_EQ(back->get("tiny")->asNumber(), 1e-300);
  }
  EXPECT_EQ(json::write(v, 0).find('\n'), std::string::npos);
  EXPECT_NE(json::write(v, 2).find("\n  \"n\": 42"), std::string::npos);
  EXPECT_EQ(json::write(Value::number(NAN)), "null");
  EXPECT_EQ(json::write(Value::number(1e20)), "1e+20"); // beyond 2^53: exponent form
  EXPECT_EQ(json::write(Value::number(9007199254740992.0)), "9007199254740992");
  EXPECT_EQ(json::write(Value::number(-0.5)), "-0.5");
}

TEST(Json, ParseFileNamesThePath) {
  char path[] = "/tmp/kvcc-json-test-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = "{\"a\": [1,\n 2,]}";
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  Expected<Value> v = json::parseFile(path);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.message().rfind(std::string(path) + ":2:4: ", 0), 0u) << v.message();
  ::unlink(path);
  EXPECT_NE(json::parseFile(path).message().find("cannot open"), std::string::npos);
}

} // namespace
