//===- Json.h - A strict DOM JSON parser and writer -------------*- C++ -*-===//
//
// Shared by the compiler (manifest, config.json) and the runtime (manifest,
// tokenizer.json, safetensors headers), so it links nothing beyond libstdc++.
// Input is hostile: RFC 8259 is enforced strictly (no comments, no trailing
// commas, no NaN, no leading zeros, valid UTF-8 only, no duplicate keys) and
// nesting is capped so that a crafted file cannot exhaust the stack.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_SUPPORT_JSON_H
#define KVCC_SUPPORT_JSON_H

#include "kvcc/Support/Error.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvcc::json {

/// Nesting deeper than this is rejected by parse().
constexpr int kMaxDepth = 512;

class Value {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Value() = default;

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isBool() const { return kind_ == Kind::Bool; }
  bool isNumber() const { return kind_ == Kind::Number; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }

  // Accessors of the wrong kind assert in debug builds and return a neutral
  // value (false, 0, empty) in release builds rather than crash.
  bool asBool() const;
  double asNumber() const;
  const std::string &asString() const;
  const std::vector<Value> &asArray() const;
  /// Members in file order (parse() rejects duplicate keys).
  const std::vector<std::pair<std::string, Value>> &asObject() const;

  /// The member named `key` of an object, or nullptr (also for non-objects).
  /// A linear scan: objects in kvcc's inputs are small or iterated instead.
  const Value *get(std::string_view key) const;

  /// Typed member lookups. Errors name the key and what was found instead,
  /// e.g. "member 'hidden_size' is a string, expected an integer".
  Expected<int64_t> getInt(std::string_view key) const;
  Expected<double> getNumber(std::string_view key) const;
  Expected<std::string> getString(std::string_view key) const;

  static Value null() { return Value(); }
  static Value boolean(bool b);
  static Value number(double d);
  static Value string(std::string s);
  static Value array(std::vector<Value> elements);
  static Value object(std::vector<std::pair<std::string, Value>> members);

private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0.0;
  std::string string_;
  std::vector<Value> array_;
  std::vector<std::pair<std::string, Value>> object_;
};

/// "null", "bool", "number", "string", "array" or "object".
const char *kindName(Value::Kind kind);

/// Converts a number to int64 when it is integral and exactly representable
/// (|x| <= 2^53); otherwise an error naming `what` and the value.
Expected<int64_t> toInt(const Value &v, std::string_view what);

/// Parses one JSON document. Errors read "<sourceName>:LINE:COL: <what>".
Expected<Value> parse(std::string_view text, std::string_view sourceName);

/// Reads and parses a file; errors name the path.
Expected<Value> parseFile(const std::string &path);

/// Serializes `v`. indent > 0 pretty-prints with that many spaces per level;
/// indent <= 0 writes everything on one line. Integral numbers print without
/// a fraction; NaN and infinities (not representable in JSON) print as null.
std::string write(const Value &v, int indent = 2);

} // namespace kvcc::json

#endif // KVCC_SUPPORT_JSON_H
