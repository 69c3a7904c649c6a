//===- Jinja.h - The chat-template subset of Jinja: syntax tree -*- C++ -*-===//
//
// Private to lib/Runtime. JinjaParser.cpp builds this tree from template
// source; ChatTemplate.cpp evaluates it. Every node keeps the byte offset of
// its source so runtime errors can point at it.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_LIB_RUNTIME_JINJA_H
#define KVCC_LIB_RUNTIME_JINJA_H

#include "kvcc/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kvcc::runtime::jinja {

/// Limits that keep a hostile template from exhausting stack, memory or time.
constexpr size_t kMaxSourceBytes = 1 << 20;
constexpr int kMaxNesting = 64;            // blocks and expressions alike
constexpr int kMaxExprHeight = 256;        // levels of one expression tree, chains included
constexpr size_t kMaxOutputBytes = 16 << 20;
constexpr int64_t kMaxSteps = 2'000'000; // evaluated nodes per render

struct Expr {
  enum class Kind {
    Str,     // literal: text
    Int,     // literal: number
    Bool,    // literal: number != 0
    None,    // literal
    Name,    // variable: text
    List,    // [args...]
    Attr,    // args[0].text
    Index,   // args[0][args[1]]
    Not,     // not args[0]
    Neg,     // -args[0]
    Binary,  // args[0] text args[1]; text is the operator ("and", "==", ...)
    Cond,    // args[0] if args[1] else args[2] (args[2] may be absent)
    Filter,  // args[0] | text(args[1..])
    Test,    // args[0] is [not] text; number = 1 when negated
    Call,    // text(args...) for a free function, or args[0].text(args[1..])
             // for a method when number = 1
  };
  Kind kind;
  size_t offset;
  std::string text;
  int64_t number = 0;
  /// Levels below and including this node (a leaf is 1); at most kMaxExprHeight.
  int height = 1;
  std::vector<std::unique_ptr<Expr>> args;
};

struct Node;
using Body = std::vector<std::unique_ptr<Node>>;

struct Node {
  enum class Kind { Text, Output, If, For, Set };
  Kind kind;
  size_t offset;
  std::string text;                         // Text: the text; For/Set: the name
  std::unique_ptr<Expr> expr;               // Output/For (iterable)/Set
  std::vector<std::unique_ptr<Expr>> conds; // If: one per if/elif branch
  std::vector<Body> bodies; // If: one per cond, plus else; For: body, else
};

struct Template {
  Body body;
};

/// "chat template: <what> at offset N", the form of every template error.
Status error(const std::string &what, size_t offset);

/// A token inside a tag. Int keeps its digits in `text` for messages.
struct Tok {
  enum class K { Name, Str, Int, Op } k;
  std::string text;
  int64_t number;
  size_t offset;
};

/// The lexer's output: text (whitespace rules already applied), an
/// expression tag {{ }} or a block tag {% %}, with the tag's tokens.
struct Item {
  enum class K { Text, Output, Block } k;
  std::string text;
  std::vector<Tok> toks;
  size_t offset;
};

/// Cuts template source into items (JinjaLexer.cpp).
Status lexTemplate(std::string_view src, std::vector<Item> &items);

/// Parses template source. Errors read "chat template: <what> at offset N".
Expected<std::shared_ptr<const Template>> parseTemplate(std::string_view src);

} // namespace kvcc::runtime::jinja

#endif // KVCC_LIB_RUNTIME_JINJA_H
