//===- Json.cpp - A strict DOM JSON parser and writer ---------------------===//
//
// A recursive-descent parser over a string_view. Recursion is bounded by
// kMaxDepth, every read is bounds-checked, numbers are converted with
// std::from_chars (locale-independent, non-throwing), and strings are checked
// to be valid UTF-8 so that every string handed to the rest of kvcc is.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Support/Json.h"

#include "kvcc/Support/File.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_set>

namespace kvcc::json {

//===----------------------------------------------------------------------===//
// Value
//===----------------------------------------------------------------------===//

namespace {
const std::string kEmptyString;
const std::vector<Value> kEmptyArray;
const std::vector<std::pair<std::string, Value>> kEmptyObject;
} // namespace

bool Value::asBool() const {
  assert(isBool() && "not a bool");
  return isBool() && bool_;
}
double Value::asNumber() const {
  assert(isNumber() && "not a number");
  return isNumber() ? number_ : 0.0;
}
const std::string &Value::asString() const {
  assert(isString() && "not a string");
  return isString() ? string_ : kEmptyString;
}
const std::vector<Value> &Value::asArray() const {
  assert(isArray() && "not an array");
  return isArray() ? array_ : kEmptyArray;
}
const std::vector<std::pair<std::string, Value>> &Value::asObject() const {
  assert(isObject() && "not an object");
  return isObject() ? object_ : kEmptyObject;
}

const Value *Value::get(std::string_view key) const {
  if (!isObject())
    return nullptr;
  for (const auto &member : object_)
    if (member.first == key)
      return &member.second;
  return nullptr;
}

const char *kindName(Value::Kind kind) {
  switch (kind) {
  case Value::Kind::Null: return "null";
  case Value::Kind::Bool: return "bool";
  case Value::Kind::Number: return "number";
  case Value::Kind::String: return "string";
  case Value::Kind::Array: return "array";
  case Value::Kind::Object: return "object";
  }
  return "?";
}

static std::string formatNumber(double d) {
  char buf[64];
  // Integral values print exactly; others with enough digits to round-trip.
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740992.0)
    std::snprintf(buf, sizeof(buf), "%.0f", d);
  else
    std::snprintf(buf, sizeof(buf), "%.17g", d);
  return buf;
}

Expected<int64_t> toInt(const Value &v, std::string_view what) {
  if (!v.isNumber())
    return Status::error(std::string(what) + " is " + (v.isArray() || v.isObject() ? "an " : "a ") +
                         kindName(v.kind()) + ", expected an integer");
  double d = v.asNumber();
  // Beyond 2^53 neighbouring integers share a double, so the value read
  // might not be the one written: refuse rather than silently round.
  if (d != std::floor(d) || std::fabs(d) > 9007199254740992.0)
    return Status::error(std::string(what) + " is " + formatNumber(d) +
                         ", expected an integer (exactly representable, |x| <= 2^53)");
  return static_cast<int64_t>(d);
}

Expected<int64_t> Value::getInt(std::string_view key) const {
  const Value *v = get(key);
  if (!v)
    return Status::error("missing member '" + std::string(key) + "'");
  return toInt(*v, "member '" + std::string(key) + "'");
}

Expected<double> Value::getNumber(std::string_view key) const {
  const Value *v = get(key);
  if (!v)
    return Status::error("missing member '" + std::string(key) + "'");
  if (!v->isNumber())
    return Status::error("member '" + std::string(key) + "' is a " + kindName(v->kind()) +
                         ", expected a number");
  return v->asNumber();
}

Expected<std::string> Value::getString(std::string_view key) const {
  const Value *v = get(key);
  if (!v)
    return Status::error("missing member '" + std::string(key) + "'");
  if (!v->isString())
    return Status::error("member '" + std::string(key) + "' is a " + kindName(v->kind()) +
                         ", expected a string");
  return v->asString();
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.bool_ = b;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::Number;
  v.number_ = d;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.string_ = std::move(s);
  return v;
}
Value Value::array(std::vector<Value> elements) {
  Value v;
  v.kind_ = Kind::Array;
  v.array_ = std::move(elements);
  return v;
}
Value Value::object(std::vector<std::pair<std::string, Value>> members) {
  Value v;
  v.kind_ = Kind::Object;
  v.object_ = std::move(members);
  return v;
}

//===----------------------------------------------------------------------===//
// Parser
//===----------------------------------------------------------------------===//

namespace {

class Parser {
public:
  Parser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  Expected<Value> parseDocument() {
    skipWhitespace();
    Value v;
    if (!parseValue(v, 0))
      return Status::error(error_);
    skipWhitespace();
    if (pos_ != text_.size()) {
      fail("unexpected trailing " + describeHere() + " after the JSON value");
      return Status::error(error_);
    }
    return v;
  }

private:
  std::string_view text_, source_;
  size_t pos_ = 0;
  std::string error_;

  bool atEnd() const { return pos_ >= text_.size(); }
  unsigned char peek() const { return static_cast<unsigned char>(text_[pos_]); }

  // Records "<source>:LINE:COL: msg" for the current position; always false
  // so callers can `return fail(...)`.
  bool fail(const std::string &msg) { return failAt(pos_, msg); }
  bool failAt(size_t at, const std::string &msg) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    error_ = std::string(source_) + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + msg;
    return false;
  }

  std::string describeHere() const {
    if (atEnd())
      return "end of input";
    unsigned char c = peek();
    char buf[32];
    if (c >= 0x20 && c < 0x7f)
      std::snprintf(buf, sizeof(buf), "character '%c'", c);
    else
      std::snprintf(buf, sizeof(buf), "byte 0x%02x", c);
    return buf;
  }

  void skipWhitespace() {
    while (!atEnd()) {
      char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        break;
      ++pos_;
    }
  }

  bool expectLiteral(std::string_view lit) {
    if (text_.substr(pos_, lit.size()) != lit)
      return fail("invalid literal (expected '" + std::string(lit) + "')");
    pos_ += lit.size();
    return true;
  }

  bool parseValue(Value &out, int depth) {
    if (atEnd())
      return fail("unexpected end of input, expected a value");
    switch (peek()) {
    case '{': return parseObject(out, depth + 1);
    case '[': return parseArray(out, depth + 1);
    case '"': {
      std::string s;
      if (!parseString(s))
        return false;
      out = Value::string(std::move(s));
      return true;
    }
    case 't':
      out = Value::boolean(true);
      return expectLiteral("true");
    case 'f':
      out = Value::boolean(false);
      return expectLiteral("false");
    case 'n':
      out = Value::null();
      return expectLiteral("null");
    default:
      if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
        return parseNumber(out);
      return fail("unexpected " + describeHere() + ", expected a value");
    }
  }

  bool parseArray(Value &out, int depth) {
    if (depth > kMaxDepth)
      return fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    ++pos_; // '['
    std::vector<Value> elements;
    skipWhitespace();
    if (!atEnd() && peek() == ']') {
      ++pos_;
      out = Value::array(std::move(elements));
      return true;
    }
    while (true) {
      skipWhitespace();
      Value element;
      if (!parseValue(element, depth))
        return false;
      elements.push_back(std::move(element));
      skipWhitespace();
      if (atEnd())
        return fail("unexpected end of input in an array, expected ',' or ']'");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        break;
      }
      return fail("unexpected " + describeHere() + " in an array, expected ',' or ']'");
    }
    out = Value::array(std::move(elements));
    return true;
  }

  bool parseObject(Value &out, int depth) {
    if (depth > kMaxDepth)
      return fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    ++pos_; // '{'
    std::vector<std::pair<std::string, Value>> members;
    std::unordered_set<std::string> seen;
    skipWhitespace();
    if (!atEnd() && peek() == '}') {
      ++pos_;
      out = Value::object(std::move(members));
      return true;
    }
    while (true) {
      skipWhitespace();
      if (atEnd() || peek() != '"')
        return fail("unexpected " + describeHere() + " in an object, expected a member name");
      size_t keyPos = pos_;
      std::string key;
      if (!parseString(key))
        return false;
      // Duplicate keys are legal-but-ambiguous in RFC 8259; different readers
      // pick different ones, so a hostile header could show two faces.
      if (!seen.insert(key).second)
        return failAt(keyPos, "duplicate member name '" + key + "'");
      skipWhitespace();
      if (atEnd() || peek() != ':')
        return fail("unexpected " + describeHere() + " after member name, expected ':'");
      ++pos_;
      skipWhitespace();
      Value v;
      if (!parseValue(v, depth))
        return false;
      members.emplace_back(std::move(key), std::move(v));
      skipWhitespace();
      if (atEnd())
        return fail("unexpected end of input in an object, expected ',' or '}'");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        break;
      }
      return fail("unexpected " + describeHere() + " in an object, expected ',' or '}'");
    }
    out = Value::object(std::move(members));
    return true;
  }

  bool parseNumber(Value &out) {
    // Validate the RFC 8259 grammar first: from_chars alone would accept
    // forms JSON forbids (leading zeros, "1.", ".5", "inf").
    size_t start = pos_;
    auto digit = [&] { return !atEnd() && peek() >= '0' && peek() <= '9'; };
    if (peek() == '-')
      ++pos_;
    if (!digit())
      return fail("invalid number: expected a digit");
    if (peek() == '0') {
      ++pos_;
      if (digit())
        return failAt(start, "invalid number: leading zeros are not allowed");
    } else {
      while (digit())
        ++pos_;
    }
    if (!atEnd() && peek() == '.') {
      ++pos_;
      if (!digit())
        return fail("invalid number: expected a digit after '.'");
      while (digit())
        ++pos_;
    }
    if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!atEnd() && (peek() == '+' || peek() == '-'))
        ++pos_;
      if (!digit())
        return fail("invalid number: expected a digit in the exponent");
      while (digit())
        ++pos_;
    }
    double d = 0;
    auto clip = [](std::string lit) { return lit.size() > 40 ? lit.substr(0, 40) + "..." : lit; };
    const char *first = text_.data() + start, *last = text_.data() + pos_;
    auto [ptr, ec] = std::from_chars(first, last, d);
    // RFC 8259 lets implementations limit range; literals that overflow (or
    // underflow) a double are rejected rather than silently changed.
    if (ec == std::errc::result_out_of_range)
      return failAt(start, "number " + clip(std::string(first, last)) + " is out of the range of a double");
    if (ec != std::errc() || ptr != last)
      return failAt(start, "invalid number '" + clip(std::string(first, last)) + "'");
    out = Value::number(d);
    return true;
  }

  static void appendUtf8(std::string &s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool parseHex4(uint32_t &cp) {
    if (text_.size() - pos_ < 4)
      return fail("truncated \\u escape");
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_ + i];
      uint32_t v;
      if (c >= '0' && c <= '9') v = c - '0';
      else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
      else return failAt(pos_ + i, "invalid hex digit in \\u escape");
      cp = cp * 16 + v;
    }
    pos_ += 4;
    return true;
  }

  // Length of the valid UTF-8 sequence at pos_, or 0 (overlong forms,
  // encoded surrogates and code points past U+10FFFF are invalid).
  size_t utf8Length() const {
    size_t n = text_.size() - pos_;
    const unsigned char *p = reinterpret_cast<const unsigned char *>(text_.data() + pos_);
    auto cont = [&](size_t i) { return i < n && (p[i] & 0xC0) == 0x80; };
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
      return cont(1) ? 2 : 0;
    if (p[0] >= 0xE0 && p[0] <= 0xEF) {
      if (!cont(1) || !cont(2))
        return 0;
      if (p[0] == 0xE0 && p[1] < 0xA0) return 0; // overlong
      if (p[0] == 0xED && p[1] > 0x9F) return 0; // surrogate
      return 3;
    }
    if (p[0] >= 0xF0 && p[0] <= 0xF4) {
      if (!cont(1) || !cont(2) || !cont(3))
        return 0;
      if (p[0] == 0xF0 && p[1] < 0x90) return 0; // overlong
      if (p[0] == 0xF4 && p[1] > 0x8F) return 0; // > U+10FFFF
      return 4;
    }
    return 0;
  }

  bool parseString(std::string &out) {
    size_t start = pos_;
    ++pos_; // opening quote
    while (true) {
      if (atEnd())
        return failAt(start, "unterminated string");
      unsigned char c = peek();
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) {
        char buf[64];
        std::snprintf(buf, sizeof(buf), "control character 0x%02x in a string (must be escaped)", c);
        return fail(buf);
      }
      if (c >= 0x80) {
        size_t len = utf8Length();
        if (len == 0)
          return fail("invalid UTF-8 in a string");
        out.append(text_.data() + pos_, len);
        pos_ += len;
        continue;
      }
      if (c != '\\') {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      size_t escPos = pos_;
      ++pos_;
      if (atEnd())
        return failAt(start, "unterminated string");
      char e = text_[pos_++];
      switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t cp = 0;
        if (!parseHex4(cp))
          return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          return failAt(escPos, "lone low surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          // A high surrogate must be followed by an escaped low surrogate.
          if (text_.substr(pos_, 2) != "\\u")
            return failAt(escPos, "lone high surrogate in \\u escape");
          pos_ += 2;
          uint32_t lo = 0;
          if (!parseHex4(lo))
            return false;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return failAt(escPos, "high surrogate not followed by a low surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        return failAt(escPos, std::string("invalid escape '\\") +
                                  (e >= 0x20 && e < 0x7f ? std::string(1, e) : std::string("?")) + "'");
      }
    }
  }
};

} // namespace

Expected<Value> parse(std::string_view text, std::string_view sourceName) {
  return Parser(text, sourceName).parseDocument();
}

Expected<Value> parseFile(const std::string &path) {
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.status();
  return parse(*text, path);
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

static void writeString(std::string &out, const std::string &s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += '"';
}

static void writeValue(std::string &out, const Value &v, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent > 0) {
      out += '\n';
      out.append(static_cast<size_t>(indent) * lvl, ' ');
    }
  };
  switch (v.kind()) {
  case Value::Kind::Null: out += "null"; return;
  case Value::Kind::Bool: out += v.asBool() ? "true" : "false"; return;
  case Value::Kind::Number:
    out += std::isfinite(v.asNumber()) ? formatNumber(v.asNumber()) : "null";
    return;
  case Value::Kind::String: writeString(out, v.asString()); return;
  case Value::Kind::Array: {
    const auto &a = v.asArray();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < a.size(); ++i) {
      if (i)
        out += indent > 0 ? "," : ", ";
      newline(level + 1);
      writeValue(out, a[i], indent, level + 1);
    }
    newline(level);
    out += ']';
    return;
  }
  case Value::Kind::Object: {
    const auto &o = v.asObject();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += '{';
    for (size_t i = 0; i < o.size(); ++i) {
      if (i)
        out += indent > 0 ? "," : ", ";
      newline(level + 1);
      writeString(out, o[i].first);
      out += ": ";
      writeValue(out, o[i].second, indent, level + 1);
    }
    newline(level);
    out += '}';
    return;
  }
  }
}

std::string write(const Value &v, int indent) {
  std::string out;
  writeValue(out, v, indent, 0);
  return out;
}

} // namespace kvcc::json
